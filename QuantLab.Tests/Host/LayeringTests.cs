using System.Reflection;
using System.Text.RegularExpressions;
using QuantLab.Host.Cli;

namespace QuantLab.Tests.Host;

/// <summary>
/// The dependency direction inside QuantLab.Host: <c>Cli</c> on top; the lab, the report renderer and the progress
/// display below it; nothing below imports anything above. Checked twice: in the compiled assembly (every type a
/// type's fields, signatures, locals and method bodies refer to) and in the source (a <c>using</c> or a qualified name,
/// which an unused import would leave out of the compiled code).
/// </summary>
public sealed partial class LayeringTests
{
    private const string Root = "QuantLab.Host";

    /// <summary>Each layer below <c>Cli</c> and the layers it may use. <c>Cli</c> may use all of them.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Configuration"] = [],
        ["Output"] = [],
        ["Data"] = ["Configuration"],
        ["Lab"] = ["Configuration", "Data"],
        ["Progress"] = ["Lab"],
        ["Reports"] = ["Configuration", "Data", "Lab", "Output"],
    };

    private static readonly Assembly Host = typeof(QuantLabCli).Assembly;

    /// <summary>QuantLab.Host.X → X (the layer); null for the entry point and compiler-generated namespaces.</summary>
    private static string? Layer(Type? type)
    {
        var ns = type?.Namespace;
        if (ns is null || !ns.StartsWith(Root + ".", StringComparison.Ordinal)) return null;
        if (type!.Assembly != Host) return null;
        return ns[(Root.Length + 1)..].Split('.')[0];
    }

    [Fact]
    public void Every_namespace_of_the_host_is_Cli_or_a_declared_layer_below_it()
    {
        var layers = Host.GetTypes().Select(Layer).OfType<string>().Distinct().Order().ToList();
        Assert.Contains("Cli", layers);
        Assert.All(layers, l => Assert.True(l == "Cli" || Allowed.ContainsKey(l), $"QuantLab.Host.{l} is not placed in the layering; add it to {nameof(Allowed)}"));
    }

    [Fact]
    public void No_type_below_Cli_refers_to_a_type_above_its_layer()
    {
        var violations = new List<string>();
        foreach (var type in Host.GetTypes())
        {
            if (Layer(type) is not { } layer || layer == "Cli") continue;
            foreach (var (used, where) in References(type))
                foreach (var t in Expand(used))
                    if (Layer(t) is { } target && target != layer && !Allowed[layer].Contains(target))
                        violations.Add($"{type.FullName} ({layer}) uses {t.FullName} ({target}) in {where}");
        }
        Assert.True(violations.Count == 0, string.Join("\n", violations.Distinct()));
    }

    [Fact]
    public void No_source_file_below_Cli_imports_or_names_Cli()
    {
        var host = Path.Combine(RepositoryRoot(), Root);
        var violations = new List<string>();
        foreach (var layer in Allowed.Keys)
        {
            var dir = Path.Combine(host, layer);
            if (!Directory.Exists(dir)) continue;
            var cliTypes = Host.GetTypes().Where(t => Layer(t) == "Cli" && !t.IsNested && !t.Name.Contains('<')).Select(t => t.Name.Split('`')[0]).ToHashSet();
            foreach (var file in Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories))
            {
                var code = StripComments(File.ReadAllText(file));
                foreach (Match m in CliNamespace().Matches(code))
                    violations.Add($"{Path.GetRelativePath(host, file)}: '{m.Value}'");
                foreach (Match m in Identifier().Matches(code))
                    if (cliTypes.Contains(m.Value))
                        violations.Add($"{Path.GetRelativePath(host, file)}: names {m.Value} (QuantLab.Host.Cli)");
            }
        }
        Assert.True(violations.Count == 0, string.Join("\n", violations.Distinct()));
    }

    [Fact]
    public void The_source_check_sees_an_import_of_Cli()
    {
        Assert.Matches(CliNamespace(), StripComments("using QuantLab.Host.Cli;\nnamespace QuantLab.Host.Lab;"));
        Assert.Matches(CliNamespace(), StripComments("var json = Cli.CliContext.Json;"));
        Assert.DoesNotMatch(CliNamespace(), StripComments("// the CLI (QuantLabCli) handles signals; see QuantLab.Host.Cli\nvar x = 1;"));
    }

    /// <summary>Matches an import of, or a name qualified by, the Cli namespace.</summary>
    [GeneratedRegex(@"\bQuantLab\.Host\.Cli\b|(?<![\w.])Cli\s*\.|using\s+static\s+QuantLab\.Host\.Cli|namespace\s+QuantLab\.Host\.Cli\b")]
    private static partial Regex CliNamespace();

    [GeneratedRegex(@"\b[A-Za-z_]\w*\b")]
    private static partial Regex Identifier();

    /// <summary>Code without comments and string literals (crudely: enough for the names a file uses).</summary>
    private static string StripComments(string code) =>
        Regex.Replace(code, @"//[^\n]*|/\*.*?\*/|@?""(?:[^""\\\n]|\\.)*""", " ", RegexOptions.Singleline);

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "QuantLab.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no QuantLab.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>A type and the types it is built from (element types, generic arguments).</summary>
    private static IEnumerable<Type> Expand(Type? type)
    {
        if (type is null) yield break;
        yield return type;
        if (type.HasElementType)
            foreach (var t in Expand(type.GetElementType())) yield return t;
        if (type.IsGenericType && !type.IsGenericTypeDefinition)
            foreach (var a in type.GetGenericArguments())
                foreach (var t in Expand(a)) yield return t;
    }

    private const BindingFlags Everything = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>Every type <paramref name="type"/> refers to, with where: base type, interfaces, fields, properties,
    /// method and constructor signatures, locals, and the types, methods and fields their IL names.</summary>
    private static IEnumerable<(Type Type, string Where)> References(Type type)
    {
        if (type.BaseType is { } b) yield return (b, "base type");
        foreach (var i in type.GetInterfaces()) yield return (i, "interface");
        foreach (var f in type.GetFields(Everything)) yield return (f.FieldType, $"field {f.Name}");
        foreach (var p in type.GetProperties(Everything)) yield return (p.PropertyType, $"property {p.Name}");
        foreach (var m in type.GetMethods(Everything).Cast<MethodBase>().Concat(type.GetConstructors(Everything)))
        {
            if (m is MethodInfo info) yield return (info.ReturnType, $"{m.Name} (return)");
            foreach (var p in m.GetParameters()) yield return (p.ParameterType, $"{m.Name} (parameter {p.Name})");
            var body = m.GetMethodBody();
            if (body is null) continue;
            foreach (var local in body.LocalVariables) yield return (local.LocalType, $"{m.Name} (local)");
            foreach (var member in IlTokens.Of(m))
            {
                switch (member)
                {
                    case Type t: yield return (t, $"{m.Name} (body)"); break;
                    case MethodBase called:
                        yield return (called.DeclaringType!, $"{m.Name} (calls {called.Name})");
                        if (called is MethodInfo { IsGenericMethod: true } g)
                            foreach (var a in g.GetGenericArguments()) yield return (a, $"{m.Name} (calls {called.Name})");
                        break;
                    case FieldInfo field: yield return (field.DeclaringType!, $"{m.Name} (uses {field.Name})"); break;
                }
            }
        }
    }
}
