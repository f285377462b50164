namespace QuantLab.Engine.Quantization;

/// <summary>
/// Shared spelling rules for the quantization options (DESIGN.md §6): the same text is accepted on the
/// command line and in campaign JSON. Input is trimmed and compared case-insensitively; the canonical
/// spelling that the option types print is lower case.
/// </summary>
internal static class OptionText
{
    internal static string Normalize(string? text) => (text ?? "").Trim().ToLowerInvariant();

    /// <summary>The one error every option parser throws: it names the option, the bad text and the allowed values.</summary>
    internal static BadInputException Invalid(string option, string? text, string allowed, string? reason = null)
    {
        var shown = text is null ? "(missing)" : $"'{text}'";
        var why = reason is null ? "" : $" ({reason})";
        return new BadInputException($"Invalid {option} {shown}{why}; allowed values: {allowed}.");
    }
}
