using QuantLab.Actors.Storage;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using QuantLab.Actors.Hosting;
using QuantLab.Actors.Messages;

namespace QuantLab.Tests.Actors;

public sealed class HostingTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_single_process_lab_composed_with_Akka_Hosting_runs_a_campaign()
    {
        var db = _dir.File("lab.db");
        var executor = new ComputeExecutor();
        var store = new SqliteLabStore(db, _dir.File("cache"));
        store.PrepareForWriting();
        using var host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka("quantlab", b => b
                .AddHocon("akka.loglevel = WARNING", HoconAddMode.Prepend)
                .WithQuantLabStore(store)
                .WithQuantLabCoordinator(LabConfig.Policy)
                .WithQuantLabWorkers(2, store, () => executor, LabConfig.Worker)))
            .Build();
        await host.StartAsync();
        try
        {
            var coordinator = host.Services.GetRequiredService<ActorRegistry>().Get<CoordinatorKey>();
            var timeout = TimeSpan.FromSeconds(20);
            Assert.IsType<CampaignAccepted>(await coordinator.Ask<object>(new SubmitCampaign(TestPlans.Small("hosted")), timeout));
            var system = host.Services.GetRequiredService<ActorSystem>();
            var kit = new Akka.TestKit.Xunit2.TestKit(system);
            coordinator.Tell(new WatchCampaign("hosted"), kit.TestActor);
            Assert.Equal(new CampaignStatus("hosted", "completed", 4, 4, 0, 0, 0), (kit.FishForMessage<CampaignStatus>(s => s.Finished, timeout)).Totals());
            Assert.Equal(4, executor.Calls.Count);
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
