using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;
using QuantLab.Actors.Messages;

namespace QuantLab.Actors.Serialization;

/// <summary>
/// Serializes every persisted event and remote message (<see cref="IQuantLabMessage"/>) as System.Text.Json
/// under an explicit, versioned manifest. Manifests are stored in the journal: never rename or reuse one.
/// A change of a type's shape that old payloads cannot be read into gets a new manifest (".v2").
/// Version 2 (engine 2.0.0) carries typed job records in their canonical form (<see cref="Engine.Jobs.JobCodec"/>);
/// the version 1 manifests (hand-built JSON parameters) are refused with a message, not misread: their job keys
/// were computed another way, so a database holding them belongs to QuantLab 1.x.
/// </summary>
public sealed class QuantLabSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int Id = 4242;

    /// <summary>Every serializable type and its manifest.</summary>
    public static readonly IReadOnlyDictionary<Type, string> Manifests = new Dictionary<Type, string>
    {
        // persisted events
        [typeof(CampaignSubmitted)] = "ql.campaign-submitted.v2",
        [typeof(JobStarted)] = "ql.job-started.v1",
        [typeof(JobsLeased)] = "ql.jobs-leased.v1",
        [typeof(JobAttemptFailed)] = "ql.job-attempt-failed.v1",
        [typeof(JobCompleted)] = "ql.job-completed.v2",
        [typeof(JobFailed)] = "ql.job-failed.v1",
        [typeof(JobsRetried)] = "ql.jobs-retried.v1",
        // snapshots
        [typeof(CoordinatorSnapshot)] = "ql.coordinator-snapshot.v3",   // binary: SnapshotCodec
        // worker protocol
        [typeof(RegisterWorker)] = "ql.register-worker.v1",
        [typeof(WorkerAccepted)] = "ql.worker-accepted.v1",
        [typeof(WorkerRefused)] = "ql.worker-refused.v1",
        [typeof(RequestJob)] = "ql.request-job.v1",
        [typeof(JobAssignment)] = "ql.job-assignment.v2",
        [typeof(NoJobAvailable)] = "ql.no-job-available.v1",
        [typeof(JobsAvailable)] = "ql.jobs-available.v1",
        [typeof(JobHeartbeat)] = "ql.job-heartbeat.v1",
        [typeof(JobFinished)] = "ql.job-finished.v1",
        [typeof(JobFinishedAck)] = "ql.job-finished-ack.v1",
        // client protocol
        [typeof(SubmitCampaign)] = "ql.submit-campaign.v2",
        [typeof(CampaignAccepted)] = "ql.campaign-accepted.v1",
        [typeof(CampaignRefused)] = "ql.campaign-refused.v1",
        [typeof(GetCampaignStatus)] = "ql.get-campaign-status.v1",
        [typeof(RetryJobs)] = "ql.retry-jobs.v1",
        [typeof(RetryAccepted)] = "ql.retry-accepted.v1",
        [typeof(WatchCampaign)] = "ql.watch-campaign.v1",
        [typeof(GetCampaignResults)] = "ql.get-campaign-results.v1",
        [typeof(CampaignStatus)] = "ql.campaign-status.v1",
        [typeof(CampaignResults)] = "ql.campaign-results.v2",
    };

    private static readonly Dictionary<string, Type> Types = Manifests.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        // Metrics may legitimately be NaN or infinite (a diverged run; the SQNR of an exact layer).
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false), new JobRecordJsonConverter() },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    public override int Identifier => Id;

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var manifest) ? manifest
            : throw new SerializationException($"QuantLabSerializer has no manifest for {o.GetType().FullName}");

    public override byte[] ToBinary(object obj) => obj is CoordinatorSnapshot snapshot
        ? SnapshotCodec.Write(snapshot)
        : JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Json);

    /// <summary>Older forms still read, by manifest: JSON snapshots of v2 (<see cref="StoredSnapshot"/>) and of v1
    /// (results with their job records, read as they are).</summary>
    private static readonly IReadOnlyDictionary<string, Type> OlderForms = new Dictionary<string, Type>(StringComparer.Ordinal)
    {
        ["ql.coordinator-snapshot.v2"] = typeof(StoredSnapshot),
        ["ql.coordinator-snapshot.v1"] = typeof(CoordinatorSnapshot),
    };

    /// <summary>Manifests of engine 1.x whose payloads hold untyped job parameters (see the class summary).</summary>
    public static readonly IReadOnlySet<string> RetiredManifests = new HashSet<string>(StringComparer.Ordinal)
    {
        "ql.campaign-submitted.v1", "ql.job-completed.v1", "ql.job-assignment.v1", "ql.submit-campaign.v1", "ql.campaign-results.v1",
    };

    /// <summary>The message or event; a payload it cannot be is a <see cref="SerializationException"/> naming the manifest.</summary>
    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (Types.TryGetValue(manifest, out var type))
            return type == typeof(CoordinatorSnapshot) ? ReadSnapshot(bytes, manifest) : Deserialize(bytes, type, manifest);
        if (OlderForms.TryGetValue(manifest, out var older))
        {
            var value = Deserialize(bytes, older, manifest);
            return value is StoredSnapshot stored ? stored.ToSnapshot() : value;
        }
        throw RetiredManifests.Contains(manifest)
            ? new SerializationException($"{manifest} was written by QuantLab engine 1.x (job parameters before typed job records); this is engine {Engine.EngineInfo.Version}: use a new database")
            : new SerializationException($"unknown manifest {manifest}: written by a newer QuantLab?");
    }

    private static CoordinatorSnapshot ReadSnapshot(byte[] bytes, string manifest)
    {
        try
        {
            return SnapshotCodec.Read(bytes);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or FormatException or ArgumentException or Engine.BadInputException)
        {
            // A cut or corrupted payload (the reader's end of stream, a negative string length), a number out of range, a name twice in one map, a job record that is not one.
            throw new SerializationException($"{manifest}: malformed payload: {e.Message}", e);
        }
    }

    private static object Deserialize(byte[] bytes, Type type, string manifest)
    {
        try
        {
            return JsonSerializer.Deserialize(bytes, type, Json) ?? throw new SerializationException($"{manifest}: null payload");
        }
        catch (JsonException e)
        {
            throw new SerializationException($"{manifest}: malformed payload: {e.Message}", e);
        }
        catch (Engine.BadInputException e)
        {
            // Well-formed JSON holding something its type cannot be (a job record missing a field, or with one of the wrong kind).
            throw new SerializationException($"{manifest}: {e.Message}", e);
        }
    }
}
