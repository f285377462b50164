using Akka.Actor;
using Akka.Configuration;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Hosting;
using QuantLab.Actors.Results;
using QuantLab.Actors.Storage;
using QuantLab.Engine;

namespace QuantLab.Host.Lab;

/// <summary>The campaign database read from its events alone (the read side): no coordinator or cluster needed.</summary>
public static class LabReader
{
    public static Task<CoordinatorState> LoadAsync(string databasePath) => ReadAsync(databasePath, LabReadSide.LoadAsync);

    public static Task<IReadOnlyList<QuantLab.Actors.Messages.ICoordinatorEvent>> EventsAsync(string databasePath) => ReadAsync(databasePath, LabReadSide.EventsAsync);

    private static async Task<T> ReadAsync<T>(string databasePath, Func<ActorSystem, string, Task<T>> read)
    {
        LabDatabase.CheckReadable(databasePath);
        var config = ConfigurationFactory.ParseString("""
                akka.loglevel = OFF
                akka.stdout-loglevel = OFF
                akka.log-dead-letters = off
                akka.persistence.journal.sql.auto-initialize = false
                akka.persistence.snapshot-store.sql.auto-initialize = false
                """)
            .WithFallback(QuantLabConfig.Serialization())
            .WithFallback(QuantLabConfig.SqlitePersistence(databasePath));
        var system = ActorSystem.Create("quantlab-read", config);
        try
        {
            return await read(system, CoordinatorActor.DefaultPersistenceId);
        }
        catch (Exception e) when (e is not QuantLabException)
        {
            throw new InfrastructureException($"database {databasePath}: cannot read the campaign events: {e.GetBaseException().Message}", e);
        }
        finally
        {
            await system.Terminate();
        }
    }

    /// <summary>The campaign's entry, or bad input naming the campaigns the database has.</summary>
    public static void RequireCampaign(CoordinatorState state, string campaign, string databasePath)
    {
        if (state.Campaigns.ContainsKey(campaign)) return;
        var known = state.Campaigns.Keys.Order(StringComparer.Ordinal).ToList();
        throw new BadInputException($"no campaign '{campaign}' in {databasePath}; " +
            (known.Count == 0 ? "it has no campaigns" : $"it has: {string.Join(", ", known)}"));
    }

    /// <summary>Whether no live process (<c>run</c>, <c>node</c>) holds the database: then nothing it shows running runs.</summary>
    public static bool Orphaned(string databasePath) => LabLock.IsHeld(databasePath) == false;

    /// <summary>A campaign's status as the database shows it, told as interrupted where <paramref name="orphaned"/>.</summary>
    public static QuantLab.Actors.Messages.CampaignStatus Status(CoordinatorState state, string campaign, bool orphaned) =>
        orphaned ? Interrupted(state.Status(campaign)) : state.Status(campaign);

    /// <summary>
    /// A campaign whose jobs the events show running while no process holds the database: the process died
    /// (kill -9, a crash, a power cut) before it could record anything. Its running jobs are queued again by
    /// the next <c>run</c>, so they count as queued.
    /// </summary>
    public static QuantLab.Actors.Messages.CampaignStatus Interrupted(QuantLab.Actors.Messages.CampaignStatus s) => s.State != "running" ? s : s with
    {
        State = "interrupted",
        Running = 0,
        Queued = s.Queued + s.Running,
        Stages = s.Stages?.Select(x => x with { Running = 0, Queued = x.Queued + x.Running }).ToList(),
    };

}
