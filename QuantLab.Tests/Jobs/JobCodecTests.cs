using QuantLab.Engine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Jobs;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Tests.Jobs;

/// <summary>The typed job records and their one canonical form: round trips, what a key holds and what it leaves out.</summary>
public class JobCodecTests
{
    private static readonly DataSelection Data = new("resize", 500);
    private static readonly QuantizationConfig Seed = QuantizationConfig.Default;

    private static string Key(JobRecord job) => JobCodec.Key(job, "dataset", "engine");

    public static IEnumerable<object[]> Records()
    {
        var train = new TrainOptions { Bias = true, Epochs = 1, Lr = 0.005, Seed = 3, TrainLimit = 1000 };
        yield return [new Fp32TrainJob(train, Data)];
        yield return [new QatTrainJob(train, new QatOptions { Config = Seed with { Bias = BiasMode.Int32, Requant = RequantSpec.FixedPoint(16) }, EmaConstant = 0.02 }, Data)];
        yield return [CalibrateJob.For("m", Seed with { WeightRange = RangeMethod.Mse, ActRange = RangeMethod.Parse("aciq"), ActBits = 4 }, 256, "pad")];
        yield return [CalibrateJob.For("m", Seed with { Scope = QuantScope.Weights }, 1000, "resize")];
        var calibrate = CalibrateJob.For("m", Seed, 1000, "resize");
        yield return [EvaluateJob.Ptq("m", calibrate, Key(calibrate), Seed with { Granularity = Granularity.Channel, Rounding = RoundingMode.HalfAway }, Data)];
        yield return [EvaluateJob.Qat("q", Seed with { Requant = RequantSpec.FixedPoint() }, Data)];
    }

    [Theory]
    [MemberData(nameof(Records))]
    public void Every_record_reads_back_from_its_canonical_form_to_the_same_record_and_key(JobRecord job)
    {
        var canonical = JobCodec.Canonical(job);
        var back = JobCodec.Read(canonical);
        Assert.Equal(job.GetType(), back.GetType());
        Assert.Equal(canonical, JobCodec.Canonical(back));
        Assert.Equal(Key(job), Key(back));
        Assert.Equal(job.Upstream, back.Upstream);
        Assert.Equal(job.Kind, back.Kind);
    }

    [Fact]
    public void The_canonical_form_names_upstream_jobs_by_role()
    {
        var calibrate = CalibrateJob.For("model-key", Seed, 1000, "resize");
        var evaluate = EvaluateJob.Ptq("model-key", calibrate, "ranges-key", Seed, Data);
        Assert.Equal([new UpstreamRef("model", "model-key"), new UpstreamRef("ranges", "ranges-key")], evaluate.Upstream);
        Assert.Contains("\"model\":\"model-key\"", JobCodec.Canonical(evaluate));
        Assert.Contains("\"ranges\":\"ranges-key\"", JobCodec.Canonical(evaluate));
        Assert.NotEqual(Key(evaluate), Key(evaluate with { Ranges = "other-ranges" }));
    }

    [Fact]
    public void A_weights_scope_evaluation_ignores_activation_and_requantization_options_unless_its_bias_is_int32()
    {
        var weights = Seed with { Scope = QuantScope.Weights };
        var a = EvaluateJob.Ptq("m", CalibrateJob.For("m", weights, 1000, "resize"), "r", weights, Data);
        var b = a with { Quantization = weights with { ActBits = 4, ActRange = RangeMethod.Sigma(3), Requant = RequantSpec.FixedPoint() } };
        Assert.Equal(Key(a), Key(b));
        Assert.NotEqual(Key(a), Key(a with { Quantization = weights with { WeightBits = 4 } }));
        // With an int32 bias the input's step (activation bits and range) enters the bias: it is part of the key.
        var int32 = a with { Quantization = weights with { Bias = BiasMode.Int32 } };
        Assert.NotEqual(Key(int32), Key(int32 with { Quantization = int32.Quantization with { ActBits = 4 } }));
        Assert.Equal(Key(int32), Key(int32 with { Quantization = int32.Quantization with { Requant = RequantSpec.FixedPoint() } }));
    }

    [Fact]
    public void The_default_act_signedness_is_left_out_of_every_record_so_existing_keys_are_unchanged()
    {
        var calibrate = CalibrateJob.For("m", Seed, 1000, "resize");
        var records = new JobRecord[]
        {
            EvaluateJob.Ptq("m", calibrate, Key(calibrate), Seed, Data),
            EvaluateJob.Ptq("m", calibrate, Key(calibrate), Seed with { Scope = QuantScope.Weights, Bias = BiasMode.Int32 }, Data),
            EvaluateJob.Qat("q", Seed, Data),
            new QatTrainJob(new TrainOptions(), new QatOptions { Config = Seed }, Data),
        };
        foreach (var record in records) Assert.DoesNotContain("actSignedness", JobCodec.Canonical(record));
        // Keys pinned from engine 2.0.0 before the option existed (commit 4850ac6): the seed's 8/8 evaluation and a QAT evaluation.
        Assert.Equal(PinnedPtqKey, Key(records[0]));
        Assert.Equal(PinnedQatKey, Key(records[2]));

        var unsigned = Seed with { ActSignedness = ActSignedness.UnsignedAfterRelu };
        var evaluate = EvaluateJob.Ptq("m", calibrate, Key(calibrate), unsigned, Data);
        Assert.Contains("\"actSignedness\":\"unsigned-after-relu\"", JobCodec.Canonical(evaluate));
        Assert.NotEqual(Key(records[0]), Key(evaluate));
        Assert.Equal(unsigned, ((EvaluateJob)JobCodec.Read(JobCodec.Canonical(evaluate))).Quantization);
        // The weights scope without an int32 bias runs activations in float: signedness cannot change its result.
        var weights = Seed with { Scope = QuantScope.Weights };
        Assert.Equal(Key(EvaluateJob.Ptq("m", calibrate, "r", weights, Data)),
            Key(EvaluateJob.Ptq("m", calibrate, "r", weights with { ActSignedness = ActSignedness.UnsignedAfterRelu }, Data)));
    }

    private const string PinnedPtqKey = "984e699610b725b85f60d9a8f27dd0a9f24d53e9a91355b7ac61b68fff88c677";
    private const string PinnedQatKey = "b92efd14eff467d4633fc0bbbd5254543fc8696e8e5800ded56b2346cd8e3381";

    [Fact]
    public void Execution_settings_of_a_training_are_not_part_of_its_key()
    {
        var job = new Fp32TrainJob(new TrainOptions(), Data);
        Assert.Equal(Key(job), Key(job with { Training = job.Training with { Threads = 2, LogEvery = 10 } }));
        Assert.NotEqual(Key(job), Key(job with { Training = job.Training with { Seed = 2 } }));
        Assert.NotEqual(Key(job), Key(job with { Data = Data with { TestLimit = null } }));
    }

    [Fact]
    public void A_record_that_gives_a_range_method_an_option_it_does_not_declare_is_refused()
    {
        var canonical = JobCodec.Canonical(CalibrateJob.For("m", Seed, 1000, "resize"));
        var forged = canonical.Replace("\"weightRange\":\"minmax\"", "\"weightBits\":4,\"weightRange\":\"minmax\"", StringComparison.Ordinal);
        Assert.NotEqual(canonical, forged);
        var e = Assert.Throws<BadInputException>(() => JobCodec.Read(forged));
        Assert.Contains("minmax", e.Message);
    }

    [Theory]
    [InlineData("""{"type":"train","inputTransform":"resize","bias":false,"epochs":"2","batchSize":4,"lr":0.001,"momentum":0.9,"seed":1}""", "'epochs' must be a number")]
    [InlineData("""{"type":"train","inputTransform":"resize","bias":false,"epochs":2.5,"batchSize":4,"lr":0.001,"momentum":0.9,"seed":1}""", "'epochs' must be a whole number within 32 bits, not 2.5")]
    [InlineData("""{"type":"train","inputTransform":"resize","bias":false,"epochs":2,"batchSize":4,"lr":0.001,"momentum":0.9,"seed":1,"trainLimit":1e12}""", "'trainLimit' must be a whole number within 32 bits, not 1e12")]
    [InlineData("""{"type":"train","inputTransform":"resize","bias":0,"epochs":2,"batchSize":4,"lr":0.001,"momentum":0.9,"seed":1}""", "'bias' must be true or false")]
    [InlineData("""{"type":"train","inputTransform":7,"bias":false,"epochs":2,"batchSize":4,"lr":0.001,"momentum":0.9,"seed":1}""", "'inputTransform' must be a string")]
    [InlineData("""{"type":"train","inputTransform":"resize","bias":false,"epochs":2,"batchSize":4,"lr":0.001,"seed":1}""", "'momentum' is missing")]
    [InlineData("""[1, 2]""", "must be a JSON object")]
    public void A_record_with_a_missing_field_or_a_value_of_the_wrong_kind_is_refused_naming_the_field(string record, string message)
    {
        var e = Assert.Throws<BadInputException>(() => JobCodec.Read(record));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Unknown_record_types_are_refused_naming_the_known_ones()
    {
        var e = Assert.Throws<BadInputException>(() => JobCodec.Read("""{"type":"distill","inputTransform":"resize"}"""));
        Assert.Contains("train, qat-train, calibrate, evaluate", e.Message);
    }

    [Fact]
    public void Axes_are_the_record_fields_without_type_and_upstream_keys()
    {
        var qat = new QatTrainJob(new TrainOptions(), new QatOptions { Config = Seed with { WeightBits = 4 } }, Data);
        var axes = JobCodec.Axes(qat);
        Assert.Equal("4", axes["qat.weightBits"]);
        Assert.Equal("0.001", axes["lr"]);
        Assert.Equal("500", axes["testLimit"]);
        Assert.DoesNotContain("type", axes.Keys);
        var evaluate = EvaluateJob.Qat("q", Seed, Data);
        Assert.Equal("qat", JobCodec.Axes(evaluate)["method"]);
        Assert.DoesNotContain("model", JobCodec.Axes(evaluate).Keys);
        // A fine-tuning names its start, so it is told apart from the same training from scratch.
        Assert.DoesNotContain("from", axes.Keys);
        Assert.Equal("abc", JobCodec.Axes(qat with { From = "abc" })["from"]);
    }
}
