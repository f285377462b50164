using System.Globalization;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Calibration;

/// <summary>The quantization options a range method's result may depend on. A calibrate job's key holds
/// exactly the options its methods declare here (see <c>RangeRequest</c>), so two configurations that
/// differ only in an undeclared option share one calibration.</summary>
[Flags]
public enum RangeDependency
{
    None = 0,
    /// <summary>The bit width the range is for (methods that optimise a quantization error).</summary>
    Bits = 1,
    /// <summary>The rounding mode the range will be used with.</summary>
    Rounding = 2,
}

/// <summary>What the observer of one tensor (or one output channel) is told about its use.</summary>
/// <param name="Bits">The bit width (2..16); 8 where the method does not depend on it.</param>
/// <param name="Rounding">The rounding; floor where the method does not depend on it.</param>
public readonly record struct ObserverContext(int Bits, RoundingMode Rounding)
{
    /// <summary>What an observer sees for an option it has not declared: a fixed value, so an undeclared
    /// dependency can never make one key stand for different ranges.</summary>
    public static readonly ObserverContext Neutral = new(8, RoundingMode.Floor);
}

/// <summary>
/// One range method as registered in <see cref="RangeObservers.Methods"/>: its name, its optional numeric
/// parameter, the options it depends on, whether QAT can observe it every mini-batch, and its observer.
/// A new method is one observer file that defines its <see cref="RangeMethodInfo"/> plus one line in the registry.
/// </summary>
/// <param name="Name">The spelling before any ':' (e.g. <c>sigma</c>).</param>
/// <param name="Parameter">The parameter's letter and rule (e.g. K, "K > 0"), or null for a method without one.</param>
/// <param name="Summary">One phrase for --help and errors.</param>
public sealed record RangeMethodInfo(
    string Name,
    RangeParameter? Parameter,
    string Summary,
    RangeDependency DependsOn,
    bool ObservedPerBatch,
    Func<double, ObserverContext, IRangeObserver> Create)
{
    /// <summary>How the method is written in option lists: <c>minmax</c>, <c>sigma:K (K > 0, e.g. sigma:3)</c>.</summary>
    /// <summary>The short form: <c>minmax</c>, <c>sigma:K</c>.</summary>
    public string Form => Parameter is null ? Name : $"{Name}:{Parameter.Letter}";

    public string Syntax => Parameter is null ? Name : $"{Name}:{Parameter.Letter} ({Parameter.Rule}, e.g. {Name}:{Parameter.Example})";
}

/// <summary>A range method's numeric parameter: its letter, rule text, example and check.</summary>
public sealed record RangeParameter(string Letter, string Rule, string Example, Func<double, bool> IsValid);

/// <summary>
/// A range method with its parameter: <c>name</c> or <c>name:X</c> for a method of
/// <see cref="RangeObservers.Methods"/> (minmax, sigma:K, percentile:P, entropy, mse, aciq). The canonical
/// spelling prints the parameter in its shortest round-trip form (<c>sigma:3</c>, <c>percentile:99.99</c>);
/// <c>sigma:3.0</c> parses to the same value.
/// </summary>
public sealed record RangeMethod
{
    private RangeMethod(RangeMethodInfo info, double parameter)
    {
        Info = info;
        Parameter = parameter;
    }

    /// <summary>The allowed spellings, from the registry.</summary>
    public static string Allowed => string.Join(", ", RangeObservers.Methods.Select(m => m.Syntax));

    public RangeMethodInfo Info { get; }

    public string Name => Info.Name;

    /// <summary>K for <c>sigma</c>, P for <c>percentile</c>, 0 for a method without a parameter.</summary>
    public double Parameter { get; }

    public static RangeMethod MinMax => Parse("minmax");
    public static RangeMethod Entropy => Parse("entropy");
    public static RangeMethod Mse => Parse("mse");
    public static RangeMethod Sigma(double k) => Parse("sigma:" + Format(k));
    public static RangeMethod Percentile(double p) => Parse("percentile:" + Format(p));

    public bool Is(string name) => Info.Name == name;

    /// <summary>The observer for one tensor or output channel; options the method has not declared are
    /// replaced by <see cref="ObserverContext.Neutral"/>.</summary>
    public IRangeObserver CreateObserver(int bits, RoundingMode rounding)
    {
        BitWidth.Validate(bits);
        var neutral = ObserverContext.Neutral;
        var context = new ObserverContext(
            Info.DependsOn.HasFlag(RangeDependency.Bits) ? bits : neutral.Bits,
            Info.DependsOn.HasFlag(RangeDependency.Rounding) ? rounding : neutral.Rounding);
        return Info.Create(Parameter, context);
    }

    /// <summary>Parses a registered method's spelling; anything else is a <see cref="BadInputException"/>.</summary>
    public static RangeMethod Parse(string? text)
    {
        var t = OptionText.Normalize(text);
        var colon = t.IndexOf(':');
        var name = colon < 0 ? t : t[..colon];
        var info = RangeObservers.Methods.FirstOrDefault(m => m.Name == name) ?? throw OptionText.Invalid("range method", text, Allowed);
        if (info.Parameter is not { } parameter)
        {
            if (colon >= 0) throw OptionText.Invalid("range method", text, Allowed, $"{name} takes no parameter");
            return new(info, 0);
        }
        if (colon < 0 || !TryParseNumber(t[(colon + 1)..], out var value))
            throw OptionText.Invalid("range method", text, Allowed, $"{name} needs a number {parameter.Letter}, as in {name}:{parameter.Example}");
        if (!parameter.IsValid(value))
            throw OptionText.Invalid("range method", text, Allowed, $"{parameter.Letter} must satisfy {parameter.Rule}");
        return new(info, value);
    }

    /// <summary>The canonical spelling, e.g. <c>minmax</c>, <c>sigma:3</c>, <c>percentile:99.9</c>.</summary>
    public string ToOption() => Info.Parameter is null ? Info.Name : $"{Info.Name}:{Format(Parameter)}";

    public override string ToString() => ToOption();

    public bool Equals(RangeMethod? other) => other is not null && other.Info.Name == Info.Name && other.Parameter.Equals(Parameter);

    public override int GetHashCode() => HashCode.Combine(Info.Name, Parameter);

    // Shortest round-trip decimal: double.Parse(Format(x)) == x.
    private static string Format(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    private static bool TryParseNumber(string s, out double value) =>
        double.TryParse(s, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
            CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
}
