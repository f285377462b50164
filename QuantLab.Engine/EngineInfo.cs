namespace QuantLab.Engine;

/// <summary>Identity of the numeric engine. Part of every job key, so results of different
/// engines are never mixed; bump it whenever numbers the engine produces could change.</summary>
public static class EngineInfo
{
    public const string Version = "2.0.0";
}
