using System.CommandLine;
using QuantLab.Engine;
using QuantLab.Engine.Quantization;

namespace QuantLab.Host.Cli;

/// <summary>
/// The quantization flags of DESIGN.md §6, made from the engine's grammar (<see cref="QuantizationOptions"/>):
/// the same names (the kebab case of the campaign fields), help texts, defaults and allowed values as campaign
/// specs. Defaults are the seed's: 8-bit, min/max ranges, per tensor, floor, float M, integer path; the bias
/// follows the model (int32 where it has one).
/// </summary>
public sealed class QuantizationFlags
{
    private readonly IReadOnlyList<(QuantOption Grammar, Option<string?> Flag)> _flags = QuantizationOptions.All
        .Select(o => (o, new Option<string?>(o.Flag) { Description = $"{o.Description}{(o.Default is null ? "" : $" (default {o.Default})")}" }))
        .ToList();

    public IEnumerable<Option> All => _flags.Select(f => f.Flag);

    /// <summary>Every flag but <c>--bias</c>, for <c>train</c>, whose own <c>--bias [MODE]</c> both asks for a model
    /// with bias and, with --qat, names the bias mode.</summary>
    public IEnumerable<Option> AllButBias => _flags.Where(f => f.Grammar != QuantizationOptions.Bias).Select(f => f.Flag);

    /// <summary>The flags given on the command line, by name.</summary>
    public IReadOnlyList<string> Given(ParseResult parse) =>
        _flags.Where(f => parse.GetResult(f.Flag) is { Implicit: false }).Select(f => f.Flag.Name).ToList();

    /// <summary>The flags given on the command line whose value differs from <paramref name="fixedConfig"/> (e.g. what a
    /// QAT model was trained for), ignoring the options in <paramref name="free"/>.</summary>
    public IReadOnlyList<string> Conflicts(ParseResult parse, QuantizationConfig fixedConfig, params QuantOption[] free) =>
        _flags.Where(f => !free.Contains(f.Grammar) && parse.GetValue(f.Flag) is { } text
                          && f.Grammar.Canonical(text) != QuantizationOptions.ValueOf(f.Grammar, fixedConfig))
            .Select(f => f.Flag.Name).ToList();

    /// <summary>The configuration the flags describe, checked by the grammar's rules against the model.</summary>
    /// <param name="bias">The bias mode when the command reads it itself (<c>train</c>); otherwise from <c>--bias</c>.</param>
    public QuantizationConfig Read(ParseResult parse, bool modelHasBias, BiasMode? bias = null)
    {
        string? Raw(QuantOption o)
        {
            if (o == QuantizationOptions.Bias && bias is { } b) return b.ToOption();
            var text = Value(parse, o);
            // Parsed here, so the error names the flag as the user wrote it.
            try { return text is null ? null : o.Canonical(text); }
            catch (BadInputException e) { throw new BadInputException($"{o.Flag}: {e.Message}", e); }
        }
        return QuantizationOptions.Check(QuantizationOptions.Build(Raw, modelHasBias), modelHasBias);
    }

    /// <summary>The value given for <paramref name="option"/>, if any.</summary>
    public string? Value(ParseResult parse, QuantOption option) => parse.GetValue(_flags.First(f => f.Grammar == option).Flag);
}
