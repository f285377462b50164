using System.Runtime.Serialization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using QuantLab.Actors.Campaigns;
using QuantLab.Actors.Planning;
using QuantLab.Actors.Serialization;
using QuantLab.Engine;
using QuantLab.Engine.Data;
using QuantLab.Engine.Export;

namespace QuantLab.Fuzz;

/// <summary>
/// One reader of untrusted bytes, as a fuzzer drives it: <see cref="Run"/> feeds it one input, and
/// <see cref="Documented"/> says which exceptions are its documented answer to bad input. Any other exception
/// (or a hang, or a crash) is a bug.
/// </summary>
public sealed record FuzzTarget(string Name, string Reads, Action<byte[]> Run, Func<Exception, bool> Documented);

/// <summary>
/// The fuzz targets: every reader of a file or message a user or a peer hands QuantLab. Each writes what it needs
/// into <see cref="Scratch"/>, one directory per process, so the target reads through the same path as the CLI.
/// </summary>
public static class FuzzTargets
{
    /// <summary>Specs are planned too (hostile grids), with this bound so one input stays fast.</summary>
    public const long MaxPlannedJobs = 20_000;

    private static readonly Lazy<string> ScratchDirectory = new(() =>
        Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"quantlab-fuzz-{Environment.ProcessId}")).FullName);

    public static string Scratch => ScratchDirectory.Value;

    public static readonly IReadOnlyList<FuzzTarget> All =
    [
        new("spec", "a campaign spec (JSON), parsed and planned", Spec, e => e is BadInputException),
        new("idx", "an MNIST IDX file, raw or gzip", Idx, e => e is BadInputException),
        new("npy", "a .npy array, read as float32, else as int32", Npy, e => e is BadInputException),
        new("export", "an export's model.json beside valid arrays", ExportManifest, e => e is BadInputException),
        new("message", "a serialized event or message: its manifest, a newline, its payload", Message,
            e => e is SerializationException),
    ];

    public static FuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"unknown fuzz target '{name}'; allowed: {string.Join(", ", All.Select(t => t.Name))}");

    private static void Spec(byte[] input)
    {
        var spec = CampaignSpecParser.Parse(Encoding.UTF8.GetString(input), "fuzz spec");
        CampaignPlanner.Plan(spec, MnistFileSet.Standard.Fingerprint, maxJobs: MaxPlannedJobs);
    }

    private static void Idx(byte[] input) => IdxReader.Read(WriteScratch("input.idx", input));

    private static void Npy(byte[] input)
    {
        // As the element types exports hold: float32 (models), else int32 (biases, logits).
        var path = WriteScratch("input.npy", input);
        try { Engine.Export.Npy.Read<float>(path); }
        catch (BadInputException) { Engine.Export.Npy.Read<int>(path); }
    }

    private static void ExportManifest(byte[] input)
    {
        var directory = ExportFixture.Directory;
        File.WriteAllBytes(Path.Combine(directory, "model.json"), input);
        try { IntExport.Read(directory); }
        finally { File.WriteAllBytes(Path.Combine(directory, "model.json"), ExportFixture.Manifest); }
    }

    // Lazy like every use of QuantLab code here: SharpFuzz's instrumented assemblies may run only inside Fuzzer.Run.
    private static readonly Lazy<QuantLabSerializer> Serializer = new(() =>
        new QuantLabSerializer((ExtendedActorSystem)ActorSystem.Create("fuzz", "akka.loglevel = OFF\nakka.stdout-loglevel = OFF")));

    /// <summary>The manifest up to the first newline, then the payload (so a fuzzer mutates both).</summary>
    private static void Message(byte[] input)
    {
        int newline = Array.IndexOf(input, (byte)'\n');
        var manifest = Encoding.UTF8.GetString(input, 0, newline < 0 ? input.Length : newline);
        Serializer.Value.FromBinary(newline < 0 ? [] : input[(newline + 1)..], manifest);
    }

    private static byte[] NpyBytes()
    {
        var path = Path.Combine(Scratch, "seed.npy");
        Engine.Export.Npy.Write<float>(path, new float[] { 1, -2.5f, 3, 0 }, 2, 2);
        return File.ReadAllBytes(path);
    }

    private static string WriteScratch(string name, byte[] bytes)
    {
        var path = Path.Combine(Scratch, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>For the seed corpus: a valid input of each target.</summary>
    public static IReadOnlyDictionary<string, byte[]> Seeds() => new Dictionary<string, byte[]>
    {
        ["idx"] = [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6],
        ["npy"] = NpyBytes(),
        ["export"] = ExportFixture.Manifest,
        ["message"] = [.. Encoding.UTF8.GetBytes(QuantLabSerializer.Manifests[typeof(Actors.Messages.JobHeartbeat)] + "\n"),
            .. JsonSerializer.SerializeToUtf8Bytes(new Actors.Messages.JobHeartbeat("w", "k", 1), QuantLabSerializer.Json)],
    };
}
