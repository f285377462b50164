using QuantLab.Actors.Campaigns;
using QuantLab.Engine;
using QuantLab.Engine.Jobs;

namespace QuantLab.Tests.Actors;

public class CampaignSpecParserTests
{
    public const string Example = """
        {
          "name": "lenet-sweep",
          "data": { "inputTransform": "pad", "testLimit": 500 },
          "train": [
            { "id": "fp32", "bias": [false, true], "epochs": 2, "batchSize": 4, "lr": 0.001, "momentum": 0.9, "seed": [1, 2], "trainLimit": 2000 },
            { "id": "qat8", "epochs": 1, "qat": { "weightBits": 8, "actBits": 8, "requant": "fixed-point" } }
          ],
          "quantize": {
            "models": "fp32",
            "scope": ["weights", "all"],
            "weightBits": [4, 8],
            "actBits": 8,
            "weightRange": ["minmax", "sigma:3.0"],
            "actRange": "percentile:99.90",
            "granularity": "channel",
            "rounding": ["floor", "half-even"],
            "requant": ["float", "fixed-point:16"],
            "bias": ["none", "float", "int32"],
            "calibration": 256
          },
          "search": { "kind": "grid" }
        }
        """;

    [Fact]
    public void A_full_spec_parses_into_axes_with_canonical_spellings()
    {
        var spec = CampaignSpecParser.Parse(Example);
        Assert.Equal("lenet-sweep", spec.Name);
        Assert.Equal(new DataSelection("pad", 500), spec.Data);
        Assert.Equal(2, spec.Train.Count);
        Assert.Equal([false, true], spec.Train[0].Bias);
        Assert.Equal([1, 2], spec.Train[0].Seed);
        Assert.Equal([2000], spec.Train[0].TrainLimit);
        Assert.Null(spec.Train[0].Qat);
        Assert.Equal(["fixed-point:31"], spec.Train[1].Qat!.Values["requant"]);
        Assert.Equal([(int?)null], spec.Train[1].TrainLimit);
        var q = spec.Quantize!;
        Assert.Equal(["fp32"], q.Models);
        Assert.Equal(["minmax", "sigma:3"], q.Axes.Values["weightRange"]);
        Assert.Equal(["percentile:99.9"], q.Axes.Values["actRange"]);
        Assert.Equal(["float", "fixed-point:16"], q.Axes.Values["requant"]);
        Assert.Equal(["none", "float", "int32"], q.Axes.Values["bias"]);
        Assert.Equal(SearchKind.Grid, spec.Search.Kind);
    }

    [Fact]
    public void Missing_optional_fields_take_the_documented_defaults()
    {
        var spec = CampaignSpecParser.Parse("""{ "name": "m", "train": { "id": "a" }, "quantize": {}, "search": { "kind": "random", "samples": 3 } }""");
        var axes = spec.Quantize!.Axes;
        Assert.Empty(axes.Values);   // every option takes the grammar's default
        Assert.Equal(["all"], axes.Of(QuantLab.Engine.Quantization.QuantizationOptions.Scope));
        Assert.Equal(["8"], axes.Of(QuantLab.Engine.Quantization.QuantizationOptions.WeightBits));
        Assert.Equal(["floor"], axes.Of(QuantLab.Engine.Quantization.QuantizationOptions.Rounding));
        Assert.Equal([(string?)null], axes.Of(QuantLab.Engine.Quantization.QuantizationOptions.Bias));   // the model's
        Assert.Empty(spec.Quantize.Models);
        Assert.Equal(new SearchSpec(SearchKind.Random, 3, 0), spec.Search);
        Assert.Equal(DataSelection.Default, spec.Data);
    }

    [Theory]
    [InlineData("""{"name":"x","train":[{"id":"a"}],"quantize":{"weightBits":[4,8,17]}}""", "$.quantize.weightBits[2]", "2 to 16")]
    [InlineData("""{"name":"x","train":[{"id":"a"}],"quantize":{"weightBit":8}}""", "$.quantize.weightBit", "weightBits")]
    [InlineData("""{"name":"x","train":[{"id":"a"}],"bogus":1}""", "$.bogus", "unknown field")]
    [InlineData("""{"name":"x","train":[{"id":"a","qat":{"rounding":"up"}}]}""", "$.train[0].qat.rounding", "floor, half-even, half-away")]
    [InlineData("""{"name":"x","train":[{"id":"a"}],"quantize":{"weightRange":"sigma:-1"}}""", "$.quantize.weightRange", "sigma:K (K > 0")]
    [InlineData("""{"name":"x","train":[{"id":"a"}],"quantize":{"actRange":["minmax","percentile:101"]}}""", "$.quantize.actRange[1]", "percentile:P")]
    [InlineData("""{"name":"x","train":[{"id":"a"}],"quantize":{"requant":"fixed-point:40"}}""", "$.quantize.requant", "8 to 31")]
    [InlineData("""{"name":"x","train":[{"id":"a"}],"quantize":{"bias":"int8"}}""", "$.quantize.bias", "none, float, int32")]
    [InlineData("""{"name":"x","train":[{"id":"a"}],"quantize":{"scope":"layers"}}""", "$.quantize.scope", "weights, all")]
    [InlineData("""{"name":"x","train":[{"id":"a"}],"quantize":{"granularity":["tensor","tensor"]}}""", "$.quantize.granularity[1]", "repeats")]
    [InlineData("""{"name":"x","train":[{"id":"a"}],"quantize":{"models":["a","b"]}}""", "$.quantize.models[1]", "allowed: a")]
    [InlineData("""{"name":"x","train":[{"id":"a"}],"quantize":{"calibration":[]}}""", "$.quantize.calibration", "empty list")]
    [InlineData("""{"name":"x","train":[{"id":"a","epochs":"2"}]}""", "$.train[0].epochs", "expected an integer")]
    [InlineData("""{"name":"x","train":[{"id":"a","lr":0}]}""", "$.train[0].lr", "(0, 10]")]
    [InlineData("""{"name":"x","train":[{"id":"a"},{"id":"a"}]}""", "$.train[1].id", "used twice")]
    [InlineData("""{"train":[{"id":"a"}]}""", "$.name", "required")]
    [InlineData("""{"name":"a b","train":[{"id":"a"}]}""", "$.name", "letters, digits")]
    [InlineData("""{"name":"..","train":[{"id":"a"}]}""", "$.name", "not starting with '.'")]
    [InlineData("""{"name":".hidden","train":[{"id":"a"}]}""", "$.name", "not starting with '.'")]
    [InlineData("""{"name":"--wait","train":[{"id":"a"}]}""", "$.name", "or '-'")]
    [InlineData("""{"name":"x","train":[{"id":"a","qat":{"actRange":"entropy"}}]}""", "$.train[0].qat.actRange", "calibration-set method")]
    [InlineData("""{"name":"x","train":[{"id":"a","qat":{"scope":"weights"}}]}""", "$.train[0].qat.scope", "allowed: all")]
    [InlineData("""{"name":"x","train":[{"id":"a","qat":{"method":"adam"}}]}""", "$.train[0].qat.method", "observe, lsq")]
    [InlineData("""{"name":"x","train":[{"id":"a","qat":{"method":["lsq","lsq"]}}]}""", "$.train[0].qat.method[1]", "repeats")]
    [InlineData("""{"name":"x","train":[{"id":"a","from":"b"}]}""", "$.train[0].from", "only a QAT training")]
    [InlineData("""{"name":"x","train":[{"id":"q","from":"f","qat":{}},{"id":"f"}]}""", "$.train[0].from", "not an FP32 training defined before this one; there is none")]
    [InlineData("""{"name":"x","train":[{"id":"f"},{"id":"g","qat":{}},{"id":"q","from":"g","qat":{}}]}""", "$.train[2].from", "allowed: f")]
    [InlineData("""{"name":"x","train":[{"id":"f","lr":[0.1,0.01]},{"id":"q","from":"f","qat":{}}]}""", "$.train[1].from", "sweeps lr")]
    [InlineData("""{"name":"x","train":[{"id":"f","seed":[1,2]},{"id":"q","from":"f","seed":[1,3],"qat":{}}]}""", "$.train[1].seed[1]", "seed 3 has no model in 'f' (its seeds: 1, 2)")]
    [InlineData("""{"name":"x","train":[{"id":"f"},{"id":"q","from":"f","bias":true,"qat":{}}]}""", "$.train[1].bias", "keeps the bias of the model it starts from")]
    [InlineData("""{"name":"x","train":[{"id":"a"}],"search":{"kind":"random"}}""", "$.search.samples", "required")]
    [InlineData("""{"name":"x","train":[{"id":"a"}],"search":{"kind":"grid","samples":3}}""", "$.search.samples", "unknown field")]
    [InlineData("""{"name":"x","name":"y","train":[{"id":"a"}]}""", "$.name", "twice")]
    public void Bad_input_names_the_JSON_path_and_the_allowed_values(string json, string path, string allowed)
    {
        var e = Assert.Throws<BadInputException>(() => CampaignSpecParser.Parse(json, "spec.json"));
        Assert.Equal(2, e.ExitCode);
        Assert.Contains($"spec.json: {path}:", e.Message);
        Assert.Contains(allowed, e.Message);
    }

    [Fact]
    public void Malformed_JSON_is_bad_input()
    {
        var e = Assert.Throws<BadInputException>(() => CampaignSpecParser.Parse("{ \"name\": ", "spec.json"));
        Assert.StartsWith("spec.json: not valid JSON", e.Message);
        // One position, 1-based, as editors count: not also System.Text.Json's 0-based one.
        var second = Assert.Throws<BadInputException>(() => CampaignSpecParser.Parse("{\n  \"name\": x }", "spec.json"));
        Assert.StartsWith("spec.json: not valid JSON: line 2, byte 11: ", second.Message);
        Assert.DoesNotContain("LineNumber", second.Message);
    }
}
