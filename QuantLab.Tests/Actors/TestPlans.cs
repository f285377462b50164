using QuantLab.Actors.Campaigns;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;

namespace QuantLab.Tests.Actors;

/// <summary>Small plans and helpers shared by the orchestration tests.</summary>
public static class TestPlans
{
    public const string Dataset = "test-dataset";
    public const string Engine = QuantLab.Engine.EngineInfo.Version;

    /// <summary>train → calibrate → evaluate ×2 (weight bits 4 and 8): four jobs.</summary>
    public static CampaignPlan Small(string name = "small", string engine = Engine, string bits = "[4, 8]") =>
        CampaignPlanner.Plan(CampaignSpecParser.Parse(
            "{\"name\":\"" + name + "\",\"train\":{\"id\":\"m\",\"seed\":1},\"quantize\":{\"weightBits\":" + bits + "}}"), Dataset, engine);

    /// <summary>Trainings only (no dependencies): one job per seed.</summary>
    public static CampaignPlan Trainings(string name, int count, int firstSeed = 0) =>
        CampaignPlanner.Plan(CampaignSpecParser.Parse(
            "{\"name\":\"" + name + "\",\"train\":{\"id\":\"m\",\"seed\":[" + string.Join(",", Enumerable.Range(firstSeed, count)) + "]}}"), Dataset, Engine);

    /// <summary>A message or state in the serializer's JSON: records holding lists and dictionaries compare by reference, their JSON by content.</summary>
    public static string Json(object o) => System.Text.Json.JsonSerializer.Serialize(o, o.GetType(), QuantLab.Actors.Serialization.QuantLabSerializer.Json);

    public static JobOutcome Success(double accuracy) =>
        JobOutcome.Success(new JobMetrics(new Dictionary<string, double> { ["accuracy"] = accuracy }, new Dictionary<string, string>()));

}
