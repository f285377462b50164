using System.Text.Json;
using QuantLab.Host.Cli;
using QuantLab.Host.Configuration;
using QuantLab.Tests.Engine;

namespace QuantLab.Tests.Host;

/// <summary>Configuration precedence: appsettings.json beside the binary &lt; appsettings.json in the
/// current directory &lt; environment variables &lt; command-line flags.</summary>
public sealed class ConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-config-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void The_binarys_appsettings_gives_the_defaults()
    {
        var options = AppConfiguration.Bind(AppConfiguration.Build(_dir));
        Assert.Equal("resize", options.Data.InputTransform);
        Assert.Equal(5, options.Data.MirrorTimeoutSeconds);
        Assert.Equal(".quantlab/quantlab.db", options.Storage.Database);
    }

    [Fact]
    public void The_current_directorys_appsettings_overrides_the_binarys()
    {
        File.WriteAllText(Path.Combine(_dir, "appsettings.json"), """{ "QuantLab": { "Data": { "InputTransform": "pad", "MirrorTimeoutSeconds": 9 } } }""");
        var options = AppConfiguration.Bind(AppConfiguration.Build(_dir));
        Assert.Equal("pad", options.Data.InputTransform);
        Assert.Equal(9, options.Data.MirrorTimeoutSeconds);
        Assert.Equal(".quantlab/quantlab.db", options.Storage.Database); // untouched keys keep the binary's value
    }

    [Fact]
    public void Environment_variables_override_both_files()
    {
        File.WriteAllText(Path.Combine(_dir, "appsettings.json"), """{ "QuantLab": { "Data": { "NpmPackage": "from-file@1.0.0" } } }""");
        const string variable = "QuantLab__Data__NpmPackage";
        Environment.SetEnvironmentVariable(variable, "from-environment@2.0.0");
        try
        {
            Assert.Equal("from-environment@2.0.0", AppConfiguration.Bind(AppConfiguration.Build(_dir)).Data.NpmPackage);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
        Assert.Equal("from-file@1.0.0", AppConfiguration.Bind(AppConfiguration.Build(_dir)).Data.NpmPackage);
    }

    [Fact]
    public void Command_line_flags_override_the_configuration()
    {
        File.WriteAllText(Path.Combine(_dir, "appsettings.json"), """{ "QuantLab": { "Data": { "InputTransform": "pad" } } }""");
        var configuration = AppConfiguration.Build(_dir);
        string Transform(params string[] extra)
        {
            var output = new StringWriter();
            int code;
            lock (TorchThreads.Gate)
                code = QuantLabCli.Run(["train", "--out", Path.Combine(_dir, "m" + extra.Length), "--train-limit", "40", "--epochs", "1", "--json", .. extra], output, new StringWriter(), configuration);
            Assert.Equal(0, code);
            return JsonDocument.Parse(output.ToString()).RootElement.GetProperty("inputTransform").GetString()!;
        }
        Assert.Equal("pad", Transform());
        Assert.Equal("resize", Transform("--input-transform", "resize"));
    }

    [Fact]
    public void A_value_of_the_wrong_type_is_a_clear_error()
    {
        File.WriteAllText(Path.Combine(_dir, "appsettings.json"), """{ "QuantLab": { "Data": { "MirrorTimeoutSeconds": "soon" } } }""");
        var output = new StringWriter();
        var error = new StringWriter();
        int code = QuantLabCli.Run(["model", "summary"], output, error, AppConfiguration.Build(_dir));
        Assert.Equal(2, code);
        Assert.Contains("MirrorTimeoutSeconds", error.ToString());
    }
}
