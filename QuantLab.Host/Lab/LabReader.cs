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
    public static Task<CoordinatorState> LoadAsync(LabStore store) => ReadAsync(store, LabReadSide.LoadAsync);

    public static Task<IReadOnlyList<QuantLab.Actors.Messages.ICoordinatorEvent>> EventsAsync(LabStore store) => ReadAsync(store, (system, id) => LabReadSide.EventsAsync(system, id));

    private static async Task<T> ReadAsync<T>(LabStore store, Func<ActorSystem, string, Task<T>> read, bool checkedReadable = false)
    {
        if (!checkedReadable) store.CheckReadable();
        var config = ConfigurationFactory.ParseString("""
                akka.loglevel = OFF
                akka.stdout-loglevel = OFF
                akka.log-dead-letters = off
                """)
            .WithFallback(QuantLabConfig.Serialization())
            .WithFallback(store.Persistence(createTables: false));
        var system = ActorSystem.Create("quantlab-read", config);
        try
        {
            return await read(system, CoordinatorActor.DefaultPersistenceId);
        }
        catch (Exception e) when (e is not QuantLabException)
        {
            throw new InfrastructureException($"{store.Name}: cannot read the campaign events: {e.GetBaseException().Message}", e);
        }
        finally
        {
            await system.Terminate();
        }
    }

    /// <summary>Where <see cref="StatusesAsync"/> found the statuses.</summary>
    public enum StatusSource { StatusRow, Journal }

    /// <summary>
    /// Every campaign's status, in name order, told as interrupted where no live process holds the database: from the
    /// status row the coordinator keeps (<see cref="StatusTable"/>; one row, milliseconds) where it is up to date, else
    /// from snapshot and journal (the row is missing, or behind a journal that nobody is catching it up with).
    /// </summary>
    public static async Task<(IReadOnlyList<QuantLab.Actors.Messages.CampaignStatus> Campaigns, StatusSource Source)> StatusesAsync(LabStore store)
    {
        store.CheckReadable();
        // Read before the statuses: whether a live process works on this database.
        bool orphaned = Orphaned(store);
        var row = StatusTable.Read(store, CoordinatorActor.DefaultPersistenceId);
        if (row is not null && row.UpToDate(live: !orphaned, DateTimeOffset.UtcNow))
            return (row.Campaigns.OrderBy(c => c.Campaign, StringComparer.Ordinal).Select(c => orphaned ? Interrupted(c) : c).ToList(), StatusSource.StatusRow);
        var state = await ReadAsync(store, LabReadSide.LoadAsync, checkedReadable: true);
        return (state.Campaigns.Keys.Order(StringComparer.Ordinal).Select(c => Status(state, c, orphaned)).ToList(), StatusSource.Journal);
    }

    /// <summary>The campaign's entry, or bad input naming the campaigns the database has.</summary>
    public static void RequireCampaign(CoordinatorState state, string campaign, LabStore store) =>
        RequireCampaign(state.Campaigns.Keys, campaign, store);

    /// <summary>The campaign is one of <paramref name="campaigns"/>, or bad input naming them.</summary>
    public static void RequireCampaign(IEnumerable<string> campaigns, string campaign, LabStore store)
    {
        var known = campaigns.Order(StringComparer.Ordinal).ToList();
        if (known.Contains(campaign, StringComparer.Ordinal)) return;
        throw new BadInputException($"no campaign '{campaign}' in {store.Name}; " +
            (known.Count == 0 ? "it has no campaigns" : $"it has: {string.Join(", ", known)}"));
    }

    /// <summary>Whether no live process (<c>run</c>, <c>node</c>) holds the database: then nothing it shows running runs.</summary>
    public static bool Orphaned(LabStore store) => store.IsHeld() == false;

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
