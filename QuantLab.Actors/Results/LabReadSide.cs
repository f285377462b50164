using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Hosting;
using QuantLab.Actors.Messages;

namespace QuantLab.Actors.Results;

/// <summary>
/// Status and reports from the journal's events alone (Akka.Persistence.Query over the SQL read journal):
/// needs the database, not a running coordinator or cluster. Folds the coordinator's events with the same
/// <see cref="CoordinatorState.ApplyAll"/> the coordinator's recovery uses, so the two cannot disagree. Like the coordinator's
/// recovery, it starts from the newest snapshot and replays only the events after it.
/// </summary>
public static class LabReadSide
{
    public static async Task<CoordinatorState> LoadAsync(ActorSystem system, string persistenceId = CoordinatorActor.DefaultPersistenceId)
    {
        var snapshots = Persistence.Instance.Apply(system).SnapshotStoreFor(QuantLabConfig.SnapshotPlugin);
        var loaded = await snapshots.Ask<ISnapshotResponse>(new LoadSnapshot(persistenceId, SnapshotSelectionCriteria.Latest, long.MaxValue), TimeSpan.FromMinutes(1));
        var (state, from) = loaded switch
        {
            LoadSnapshotResult { Snapshot: { } s } => (CoordinatorState.FromSnapshot(CoordinatorPolicy.Default, (CoordinatorSnapshot)s.Snapshot), s.Metadata.SequenceNr + 1),
            LoadSnapshotFailed f => throw f.Cause,
            _ => (CoordinatorState.Empty(), 0L),
        };
        return state.ApplyAll(await EventsAsync(system, persistenceId, from));
    }

    /// <summary>Every coordinator event in journal order from sequence number <paramref name="from"/> (for audits: e.g. that each key was completed once).</summary>
    public static async Task<IReadOnlyList<ICoordinatorEvent>> EventsAsync(ActorSystem system, string persistenceId = CoordinatorActor.DefaultPersistenceId, long from = 0L)
    {
        var journal = PersistenceQuery.Get(system).ReadJournalFor<ICurrentEventsByPersistenceIdQuery>(QuantLabConfig.ReadJournalPlugin);
        var events = new List<ICoordinatorEvent>();
        await journal.CurrentEventsByPersistenceId(persistenceId, from, long.MaxValue)
            .RunForeach(envelope => events.Add((ICoordinatorEvent)envelope.Event), system.Materializer());
        return events;
    }

    public static async Task<CampaignStatus> StatusAsync(ActorSystem system, string campaign) => (await LoadAsync(system)).Status(campaign);

    public static async Task<CampaignResults> ResultsAsync(ActorSystem system, string campaign) => (await LoadAsync(system)).Results(campaign);
}
