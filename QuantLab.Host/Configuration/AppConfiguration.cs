using Microsoft.Extensions.Configuration;

namespace QuantLab.Host.Configuration;

/// <summary>
/// Configuration in the usual .NET precedence: appsettings.json beside the binary (a copy of the
/// repository's), then appsettings.json in the current directory, then environment variables
/// (QUANTLAB__DATA__DIR=… sets QuantLab:Data:Dir), then the command line's flags, which each verb
/// applies over the bound options.
/// </summary>
public static class AppConfiguration
{
    public static IConfiguration Build(string? currentDirectory = null)
    {
        var builder = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true);
        var local = Path.Combine(currentDirectory ?? Directory.GetCurrentDirectory(), "appsettings.json");
        if (!string.Equals(Path.GetFullPath(local), Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "appsettings.json")), StringComparison.Ordinal))
            builder.AddJsonFile(local, optional: true);
        return builder.AddEnvironmentVariables().Build();
    }

    /// <summary>Binds the <c>QuantLab</c> section and validates it (<see cref="QuantLabOptionsValidator"/>): a value of the
    /// wrong type or out of range is a <see cref="QuantLab.Engine.BadInputException"/> naming the setting.</summary>
    public static QuantLabOptions Bind(IConfiguration configuration)
    {
        var options = new QuantLabOptions();
        try
        {
            configuration.GetSection(QuantLabOptions.Section).Bind(options);
        }
        catch (InvalidOperationException e)
        {
            throw new QuantLab.Engine.BadInputException($"configuration: {e.Message}", e);
        }
        QuantLabOptionsValidator.ThrowIfInvalid(options);
        return options;
    }
}
