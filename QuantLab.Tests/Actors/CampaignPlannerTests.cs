using QuantLab.Actors.Campaigns;
using QuantLab.Actors.Planning;
using QuantLab.Engine.Jobs;
using QuantLab.Engine.Qat;

namespace QuantLab.Tests.Actors;

public class CampaignPlannerTests
{
    private const string Dataset = "mnist-test-fingerprint";

    private static CampaignPlan Plan(string json, string dataset = Dataset, string engine = "1.0.0", long maxJobs = CampaignPlanner.DefaultMaxJobs) =>
        CampaignPlanner.Plan(CampaignSpecParser.Parse(json), dataset, engine, maxJobs);

    [Fact]
    public void The_example_grid_expands_to_the_counted_jobs_and_lists_the_impossible_combinations()
    {
        var plan = Plan(CampaignSpecParserTests.Example);
        // 4 FP32 trainings (bias × seed) + 1 QAT training.
        Assert.Equal(5, plan.Count(JobKind.Train));
        // Per model: ranges for scope weights (2 weight-range methods) and scope all (2): 4 × 4 models.
        Assert.Equal(16, plan.Count(JobKind.Calibrate));
        // Bias-free model: 8 weights-only + 16 integer; biased: 24 weights-only (none, float and int32 bias; the
        // requantization does not matter there) + 40 integer; twice each; plus the QAT evaluation.
        Assert.Equal(2 * 24 + 2 * 64 + 1, plan.Count(JobKind.Evaluate));
        // Bias-free: float and int32 bias (64 combinations); biased: fixed-point with float bias (8).
        Assert.Equal(2 * 64 + 2 * 8, plan.Dropped.Count);
        Assert.Contains(plan.Dropped, d => d.Reason.StartsWith("bias int32 needs a model with bias", StringComparison.Ordinal));
        Assert.Contains(plan.Dropped, d => d.Reason.StartsWith("requant fixed-point:16 cannot be combined with bias float", StringComparison.Ordinal));
        Assert.Equal(plan.Jobs.Count, plan.Jobs.Select(j => j.Key).Distinct().Count());
    }

    [Fact]
    public void A_qat_training_with_from_starts_from_the_fp32_model_of_its_own_seed_and_from_scratch_keys_stay()
    {
        const string Spec = """
            {"name":"f","train":[{"id":"fp32","bias":true,"seed":[1,2]},
                                 {"id":"lsq","from":"fp32","seed":[2,1],"qat":{"method":"lsq","weightBits":4,"actBits":4}},
                                 {"id":"scratch","seed":1,"qat":{"method":"lsq","weightBits":4,"actBits":4}}]}
            """;
        var plan = Plan(Spec);
        var fp32 = plan.Jobs.Where(j => j.Job is Fp32TrainJob).ToDictionary(j => ((Fp32TrainJob)j.Job).Training.Seed, j => j.Key);
        var started = plan.Jobs.Where(j => j.Label.StartsWith("lsq", StringComparison.Ordinal) && j.Job is QatTrainJob).ToList();
        Assert.Equal(2, started.Count);
        Assert.All(started, j =>
        {
            var qat = (QatTrainJob)j.Job;
            Assert.Equal(fp32[qat.Training.Seed], qat.From);
            Assert.Equal([fp32[qat.Training.Seed]], j.Upstream);
            Assert.True(qat.Training.Bias);   // the model's bias
            Assert.Equal(qat, JobCodec.Read(JobCodec.Canonical(qat)));
        });
        // A training from scratch has no upstream, and its canonical form (so its key) has no model field.
        var scratch = (QatTrainJob)plan.Jobs.Single(j => j.Label.StartsWith("scratch", StringComparison.Ordinal) && j.Job is QatTrainJob).Job;
        Assert.Null(scratch.From);
        Assert.DoesNotContain("\"model\"", JobCodec.Canonical(scratch));

        // A random search that draws one QAT evaluation brings the training it starts from along, before it.
        var one = Plan("""
            {"name":"r","train":[{"id":"fp32","seed":[1,2]},{"id":"lsq","from":"fp32","seed":[1,2],"qat":{"method":"lsq"}}],
             "search":{"kind":"random","samples":1,"seed":4}}
            """);
        var keys = one.Jobs.Select(j => j.Key).ToList();
        var qatJob = Assert.Single(one.Jobs, j => j.Job is QatTrainJob);
        var start = ((QatTrainJob)qatJob.Job).From!;
        Assert.Equal([start, qatJob.Key], keys.Where(k => k == start || k == qatJob.Key));
        Assert.Equal(3, one.Jobs.Count);   // the FP32 training, the QAT training, its evaluation
    }

    [Fact]
    public void Every_upstream_job_comes_before_its_dependents()
    {
        var plan = Plan(CampaignSpecParserTests.Example);
        var seen = new HashSet<string>();
        foreach (var job in plan.Jobs)
        {
            Assert.All(job.Upstream, u => Assert.Contains(u, seen));
            seen.Add(job.Key);
            Assert.Equal(job.Kind switch { JobKind.Train => 0, JobKind.Calibrate => 1, _ => job.Upstream.Count }, job.Upstream.Count);
        }
        var qatEval = Assert.Single(plan.Jobs, j => j.Kind == JobKind.Evaluate && j.Upstream.Count == 1);
        Assert.Equal(EvaluationMethod.Qat, Assert.IsType<EvaluateJob>(qatEval.Job).Method);
    }

    [Fact]
    public void Keys_are_stable_across_runs_and_independent_of_field_order()
    {
        const string a = """{"name":"k","train":{"id":"m","seed":7,"lr":0.01},"quantize":{"weightBits":[8,4],"rounding":"half-away"}}""";
        const string b = """{"quantize":{"rounding":"half-away","weightBits":[8,4]},"train":{"lr":0.01,"seed":7,"id":"m"},"name":"k"}""";
        var first = Plan(a).Jobs.Select(j => j.Key).ToList();
        Assert.Equal(first, Plan(a).Jobs.Select(j => j.Key).ToList());
        Assert.Equal(first, Plan(b).Jobs.Select(j => j.Key).ToList());
        var train = Plan(a).Jobs[0];
        Assert.Equal("""{"batchSize":4,"bias":false,"epochs":2,"inputTransform":"resize","lr":0.01,"momentum":0.9,"seed":7,"type":"train"}""", JobCodec.Canonical(train.Job));
        // A golden value (also computed by Python's json.dumps(sort_keys=True) + hashlib): a change of canonical form or key recipe changes it, and with it every stored key.
        Assert.Equal("ededee2baee7446937e5cc0d74c11e7290c7ff96e66708efba421cf2c6a15d0c", train.Key);
    }

    [Fact]
    public void Keys_depend_on_dataset_fingerprint_and_engine_version()
    {
        const string spec = """{"name":"k","train":{"id":"m"}}""";
        var key = Plan(spec).Jobs[0].Key;
        Assert.NotEqual(key, Plan(spec, dataset: "other").Jobs[0].Key);
        Assert.NotEqual(key, Plan(spec, engine: "2.0.0").Jobs[0].Key);
    }

    [Fact]
    public void Equal_configurations_under_different_names_or_unused_fields_run_once()
    {
        // Two training ids with the same parameters; activation bits do not matter under scope weights.
        var plan = Plan("""
            {"name":"d","train":[{"id":"a","seed":1},{"id":"b","seed":1}],
             "quantize":{"models":["a","b"],"scope":"weights","actBits":[4,6,8],"requant":["float","fixed-point"]}}
            """);
        Assert.Equal(1, plan.Count(JobKind.Train));
        Assert.Equal(1, plan.Count(JobKind.Calibrate));
        Assert.Equal(1, plan.Count(JobKind.Evaluate));
        Assert.True(plan.MergedDuplicates > 0);
    }

    [Fact]
    public void Random_search_draws_distinct_samples_deterministically_from_its_seed()
    {
        static string Spec(int samples, int seed) =>
            $$$"""{"name":"r","train":{"id":"m"},"quantize":{"weightBits":[2,3,4,5,6,7,8],"actBits":[4,8],"rounding":["floor","half-even"]},"search":{"kind":"random","samples":{{{samples}}},"seed":{{{seed}}}}}""";
        var one = Plan(Spec(5, 42));
        Assert.Equal(5, one.Count(JobKind.Evaluate));
        Assert.Equal(1, one.Count(JobKind.Train));
        Assert.Equal(one.Jobs.Select(j => j.Key), Plan(Spec(5, 42)).Jobs.Select(j => j.Key));
        Assert.NotEqual(one.Jobs.Select(j => j.Key), Plan(Spec(5, 43)).Jobs.Select(j => j.Key));
        Assert.Equal(28, Plan(Spec(1000, 1)).Count(JobKind.Evaluate));   // every one of the 7 × 2 × 2 when asked for more
    }

    [Fact]
    public void A_QAT_training_with_an_impossible_configuration_is_dropped_and_listed()
    {
        var plan = Plan("""{"name":"q","train":{"id":"q","bias":[false,true],"qat":{"requant":"fixed-point","bias":"float"}}}""");
        Assert.Equal(0, plan.Count(JobKind.Train));
        Assert.Equal(2, plan.Dropped.Count);
    }

    [Fact]
    public void A_qat_method_axis_trains_each_method_and_observe_keeps_its_keys()
    {
        var plain = Plan("""{"name":"q","train":{"id":"q","qat":{"weightBits":2,"actBits":2}}}""");
        var observe = Plan("""{"name":"q","train":{"id":"q","qat":{"method":"observe","weightBits":2,"actBits":2}}}""");
        var both = Plan("""{"name":"q","train":{"id":"q","qat":{"method":["observe","lsq"],"weightBits":2,"actBits":2}}}""");
        // A spec without the field plans exactly what naming the default does.
        Assert.Equal(plain.Jobs.Select(j => j.Key), observe.Jobs.Select(j => j.Key));
        var trainings = both.Jobs.Where(j => j.Kind == JobKind.Train).ToList();
        Assert.Equal(2, trainings.Count);
        Assert.Equal([QatMethod.Observe, QatMethod.Lsq], trainings.Select(j => ((QatTrainJob)j.Job).Qat.Method));
        Assert.Contains(plain.Jobs.Single(j => j.Kind == JobKind.Train).Key, trainings.Select(j => j.Key));
        Assert.Contains("method=lsq", trainings[1].Label);
    }

    /// <summary>6.75 million combinations of one model (issue 16's probe of such a grid took 4 minutes and 21.7 GB to plan).</summary>
    private static string Huge(string search = "") => $$"""
        {"name":"huge","train":{"id":"m"},"quantize":{
          "weightBits":[2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],"actBits":[2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],
          "weightRange":["minmax","sigma:1","sigma:2","sigma:3","sigma:4","percentile:99","percentile:99.9","percentile:99.99","entropy","mse"],
          "actRange":["minmax","sigma:1","sigma:2","sigma:3","sigma:4","percentile:99","percentile:99.9","percentile:99.99","entropy","mse"],
          "rounding":["floor","half-even","half-away"],"requant":["float","fixed-point:31","fixed-point:16","fixed-point:8","fixed-point:24"],
          "granularity":["tensor","channel"],"calibration":[100,200,500,1000,2000,3000,4000,5000,10000,20000]}{{search}}}
        """;

    [Fact]
    public void A_grid_past_the_job_limit_is_refused_with_its_count_before_anything_is_built()
    {
        var spec = CampaignSpecParser.Parse(Huge());
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<QuantLab.Engine.BadInputException>(() => CampaignPlanner.Plan(spec, Dataset, "e"));
        Assert.Contains("6,750,000 evaluations", e.Message);   // 15·15·10·10·3·5·2·10 combinations of the one model
        Assert.Contains("1,000,000", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10_000_000, "counting must not build the grid");
        // The limit is a parameter (QuantLab:Orchestration:MaxPlannedJobs).
        Assert.Throws<QuantLab.Engine.BadInputException>(() => Plan(CampaignSpecParserTests.Example, maxJobs: 100));
    }

    [Fact]
    public void A_random_search_over_a_huge_grid_draws_its_samples_without_enumerating_it()
    {
        var spec = CampaignSpecParser.Parse(Huge(""","search":{"kind":"random","samples":5,"seed":3}"""));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var plan = CampaignPlanner.Plan(spec, Dataset, "e");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 50_000_000);
        Assert.Equal(5, plan.Count(JobKind.Evaluate));
        Assert.Equal(plan.Jobs.Select(j => j.Key), CampaignPlanner.Plan(spec, Dataset, "e").Jobs.Select(j => j.Key));   // the seed decides
    }
}
