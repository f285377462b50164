using System.Globalization;

namespace QuantLab.Engine.Quantization;

/// <summary>
/// Bit widths for weights and activations: 2 ≤ n ≤ 16 (DESIGN.md §3). 16 is the upper bound because the
/// accumulator bound (see <see cref="AccumulatorBounds"/>) and the int16 export type assume it.
/// </summary>
public static class BitWidth
{
    public const int Min = 2;
    public const int Max = 16;
    public const string Allowed = "an integer from 2 to 16";

    public static bool IsValid(int bits) => bits is >= Min and <= Max;

    /// <summary>Parses a bit width; <paramref name="option"/> names it in the error (e.g. "weight bits").</summary>
    public static int Parse(string? text, string option = "bit width")
    {
        var t = (text ?? "").Trim();
        if (int.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var bits) && IsValid(bits))
            return bits;
        throw OptionText.Invalid(option, text, Allowed);
    }

    /// <summary>Throws a <see cref="BadInputException"/> unless 2 ≤ bits ≤ 16.</summary>
    public static void Validate(int bits, string option = "bit width")
    {
        if (!IsValid(bits)) throw OptionText.Invalid(option, bits.ToString(CultureInfo.InvariantCulture), Allowed);
    }
}
