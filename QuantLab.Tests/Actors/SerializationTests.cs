using QuantLab.Engine.Jobs;
using System.Text.Json;
using Akka.TestKit.Xunit2;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Hosting;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;
using QuantLab.Actors.Serialization;

namespace QuantLab.Tests.Actors;

public class SerializationTests() : TestKit(QuantLabConfig.Serialization())
{
    private static readonly DateTimeOffset At = new(2026, 3, 4, 5, 6, 7, TimeSpan.FromHours(1));

    /// <summary>One instance of every event and message type, with every field set.</summary>
    public static IEnumerable<IQuantLabMessage> Samples()
    {
        var plan = TestPlans.Small();
        var job = plan.Jobs[^1];
        var metrics = new JobMetrics(
            new Dictionary<string, double> { ["accuracy"] = 0.9867, ["sqnr.conv1"] = double.PositiveInfinity, ["loss"] = double.NaN },
            new Dictionary<string, string> { ["note"] = "ünïcode \"quoted\"" });
        var outcome = new JobOutcome(OutcomeStatus.Succeeded, metrics, new Dictionary<string, string> { ["weights"] = new string('a', 64) }, null);
        var result = new JobResult(job.Key, job.Job, job.Label, OutcomeStatus.ConfigurationFailed,
            metrics, outcome.Artifacts, "diverged", "w1", "akka.tcp://quantlab@127.0.0.1:5001", "1.0.0", 2, 1234);
        var submitted = new CampaignSubmitted(plan.Campaign, plan.EngineVersion, plan.DatasetFingerprint, plan.Jobs,
            [new DroppedCombination("m bias=float", "bias mode float on a model without bias")], At);
        yield return submitted;
        yield return new JobStarted(job.Key, "w1", "node", 1, At);
        yield return new JobsLeased("w1", "node", [new LeasedJob(job.Key, 1), new LeasedJob("k2", 3)], At);
        yield return new JobAttemptFailed(job.Key, "w1", 1, "boom", At);
        yield return new JobCompleted(result, At);
        yield return new JobFailed(job.Key, "failed 3 times", 3, At);
        yield return new JobsRetried("c", [job.Key, "k2"], DateTimeOffset.UnixEpoch);
        yield return new RegisterWorker("w1", "node", "1.0.0");
        yield return new WorkerAccepted("w1");
        yield return new WorkerRefused("w1", "engine differs");
        yield return new RequestJob("w1", 4);
        yield return new JobAssignment(job, 2, new Dictionary<string, IReadOnlyDictionary<string, string>> { [job.Upstream[0]] = outcome.Artifacts });
        yield return new NoJobAvailable("w1");
        yield return new JobsAvailable(3);
        yield return new JobHeartbeat("w1", job.Key, 2);
        yield return new JobFinished("w1", "node", job.Key, 2, outcome, 77);
        yield return new JobFinishedAck(job.Key, 2);
        yield return new SubmitCampaign(plan with { Dropped = [new DroppedCombination("x", "y")], MergedDuplicates = 2 });
        yield return new CampaignAccepted("c", 10, 3, 1);
        yield return new CampaignRefused("c", "engine");
        yield return new GetCampaignStatus("c");
        yield return new RetryJobs("c", "ab12");   // (a null key, every failed job, round-trips the same way)
        yield return new RetryAccepted("c", 3);
        yield return new WatchCampaign("c");
        yield return new GetCampaignResults("c");
        yield return new CampaignStatus("c", "running", 10, 5, 1, 2, 2, [new StageCounts("train", 2, 2, 0, 0, 0), new StageCounts("evaluate", 8, 3, 1, 2, 2)],
            Producers: [new ProducerCount(null, 1), new ProducerCount("CN=node-a, O=QuantLab lab node", 4)]);
        yield return new CampaignResults("c", [result], [new FailedJob(job.Key, JobKind.Evaluate, "lbl", "err", 3)]);
        var train = plan.Jobs[0];
        yield return CoordinatorState.Empty().ApplyAll([
            submitted,
            new JobStarted(train.Key, "w1", "node", 1, At),
            new JobCompleted(result with { Key = train.Key, Job = train.Job, Status = OutcomeStatus.Succeeded, Error = null }, At),
            new JobsLeased("w1", "node", [new LeasedJob(plan.Jobs[1].Key, 1)], At),
        ]).ToSnapshot(At);
    }

    [Fact]
    public void Every_message_type_has_a_sample_and_a_versioned_manifest()
    {
        var types = typeof(IQuantLabMessage).Assembly.GetTypes()
            .Where(t => typeof(IQuantLabMessage).IsAssignableFrom(t) && !t.IsInterface && !t.IsAbstract).ToHashSet();
        Assert.Equal(types.OrderBy(t => t.Name), QuantLabSerializer.Manifests.Keys.OrderBy(t => t.Name));
        Assert.Equal(types.OrderBy(t => t.Name), Samples().Select(s => s.GetType()).OrderBy(t => t.Name));
        Assert.All(QuantLabSerializer.Manifests.Values, m => Assert.Matches(@"^ql\.[a-z-]+\.v\d+$", m));
        Assert.Equal(QuantLabSerializer.Manifests.Count, QuantLabSerializer.Manifests.Values.Distinct().Count());
    }

    [Fact]
    public void Every_message_round_trips_through_the_serializer_Akka_picks_for_it()
    {
        foreach (var message in Samples())
        {
            var serializer = Assert.IsType<QuantLabSerializer>(Sys.Serialization.FindSerializerFor(message));
            Assert.Equal(QuantLabSerializer.Id, serializer.Identifier);
            var manifest = serializer.Manifest(message);
            var bytes = serializer.ToBinary(message);
            var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
            Assert.IsType(message.GetType(), back);
            // Records holding lists and dictionaries compare by reference; compare their JSON instead.
            Assert.Equal(TestPlans.Json(message), TestPlans.Json(back));
        }
    }

    [Fact]
    public void An_unknown_manifest_is_an_error_that_says_so()
    {
        var serializer = (QuantLabSerializer)Sys.Serialization.FindSerializerForType(typeof(RequestJob));
        var e = Assert.ThrowsAny<Exception>(() => serializer.FromBinary("{}"u8.ToArray(), "ql.request-job.v99"));
        Assert.Contains("unknown manifest ql.request-job.v99", e.Message);
    }

    [Fact]
    public void A_payload_whose_job_record_misses_a_field_is_a_serialization_error_naming_the_manifest_and_the_field()
    {
        var completed = Samples().OfType<JobCompleted>().First();
        var serializer = (QuantLabSerializer)Sys.Serialization.FindSerializerFor(completed);
        var manifest = serializer.Manifest(completed);
        var text = System.Text.Encoding.UTF8.GetString(serializer.ToBinary(completed));
        var broken = System.Text.RegularExpressions.Regex.Replace(text, "\"inputTransform\":\"[a-z]+\",?", "");
        Assert.NotEqual(text, broken);
        var e = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(System.Text.Encoding.UTF8.GetBytes(broken), manifest));
        Assert.Contains(manifest, e.Message);
        Assert.Contains("'inputTransform' is missing", e.Message);
    }

    [Fact]
    public void A_snapshot_is_stored_in_binary_with_each_job_record_once_and_the_v2_and_v1_JSON_forms_are_still_read()
    {
        var snapshot = Samples().OfType<CoordinatorSnapshot>().Single();
        Assert.Contains(snapshot.Jobs, j => j.Result is { } r && r.Label != j.Job.Label);   // a label of its own is kept
        Assert.Contains(snapshot.Jobs, j => j.Result is { } r && double.IsNaN(r.Metrics.Numbers["loss"]));
        var serializer = (QuantLabSerializer)Sys.Serialization.FindSerializerFor(snapshot);
        Assert.Equal("ql.coordinator-snapshot.v3", serializer.Manifest(snapshot));
        var stored = serializer.ToBinary(snapshot);
        // v1 stored the snapshot as it is; v2 left out of each result its key and record, and its label where it was the entry's.
        var v1 = JsonSerializer.SerializeToUtf8Bytes(snapshot, QuantLabSerializer.Json);
        var v2 = System.Text.Json.Nodes.JsonNode.Parse(v1)!;
        foreach (var job in v2["jobs"]!.AsArray())
            if (job!["result"] is System.Text.Json.Nodes.JsonObject result)
            {
                result.Remove("key");
                result.Remove("job");
                if (result["label"]!.GetValue<string>() == job["job"]!["label"]!.GetValue<string>()) result.Remove("label");
            }
        static int Records(byte[] payload) => System.Text.RegularExpressions.Regex.Count(System.Text.Encoding.UTF8.GetString(payload), "\"inputTransform\"");
        Assert.Equal(snapshot.Jobs.Count, Records(stored));
        Assert.Equal(snapshot.Jobs.Count + snapshot.Jobs.Count(j => j.Result is not null), Records(v1));
        var v2Bytes = System.Text.Encoding.UTF8.GetBytes(v2.ToJsonString());
        Assert.True(stored.Length < v2Bytes.Length, $"binary {stored.Length} bytes, v2 JSON {v2Bytes.Length}");
        Assert.Equal(TestPlans.Json(snapshot), TestPlans.Json(serializer.FromBinary(stored, "ql.coordinator-snapshot.v3")));
        Assert.Equal(TestPlans.Json(snapshot), TestPlans.Json(serializer.FromBinary(v2Bytes, "ql.coordinator-snapshot.v2")));
        Assert.Equal(TestPlans.Json(snapshot), TestPlans.Json(serializer.FromBinary(v1, "ql.coordinator-snapshot.v1")));
    }

    [Fact]
    public void A_snapshot_cut_short_or_with_bytes_changed_is_refused_as_a_serialization_error_naming_the_manifest()
    {
        var snapshot = Samples().OfType<CoordinatorSnapshot>().Single();
        var serializer = (QuantLabSerializer)Sys.Serialization.FindSerializerFor(snapshot);
        var stored = serializer.ToBinary(snapshot);
        var manifest = serializer.Manifest(snapshot);
        // Every cut, and trailing bytes: never a snapshot read from part of a payload.
        foreach (var payload in Enumerable.Range(0, stored.Length).Select(n => stored[..n]).Append([.. stored, 0]))
        {
            var e = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(payload, manifest));
            Assert.StartsWith($"{manifest}: malformed payload", e.Message);
        }
        // Changed bytes: the documented error, or a snapshot (a changed letter in a label is still a snapshot).
        var random = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            var changed = (byte[])stored.Clone();
            changed[random.Next(changed.Length)] = (byte)random.Next(256);
            var e = Record.Exception(() => serializer.FromBinary(changed, manifest));
            Assert.True(e is null or System.Runtime.Serialization.SerializationException, $"byte change {i}: {e}");
        }
    }
}
