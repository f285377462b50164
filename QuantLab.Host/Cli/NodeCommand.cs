using System.CommandLine;
using Akka.Actor;
using QuantLab.Engine;
using QuantLab.Host.Lab;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab node</c>: a long-running cluster node (coordinator singleton host, workers, or both)
/// sharing the campaign database (a SQLite file on one machine, or a PostgreSQL server) with the other nodes. Stops on Ctrl-C / SIGTERM (leaving the cluster).</summary>
public static class NodeCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var roles = new Option<string>("--roles") { Description = "coordinator, worker or coordinator,worker", DefaultValueFactory = _ => "coordinator,worker" };
        var port = new Option<int>("--port") { Description = "TCP port of this node on QuantLab:Cluster:Hostname (127.0.0.1)", Required = true };
        var seeds = new Option<string>("--seed-nodes") { Description = "akka.tcp://quantlab@127.0.0.1:PORT[,…] (akka.ssl.tcp://… with QuantLab:Cluster:Tls)", Required = true };
        var db = LabOptions.Database();
        var workers = LabOptions.Workers();
        var insecure = LabOptions.Insecure();
        var command = new Command("node", "Run a cluster node until Ctrl+C or SIGTERM, then leave the cluster and exit 0") { roles, port, seeds, db, workers, insecure };
        command.SetAction(async (parse, cancel) =>
        {
            var ctx = context();
            var roleList = LabHost.Roles(parse.GetValue(roles)!);
            var seedList = LabHost.SeedNodes(parse.GetValue(seeds));
            var p = parse.GetValue(port);
            if (p is < 1 or > 65535) throw new BadInputException($"--port must be 1..65535 (got {p})");
            var store = LabOptions.Store(ctx, parse.GetValue(db));
            var count = roleList.Contains("worker") ? LabOptions.WorkerCount(ctx, parse.GetValue(workers)) : 0;
            var node = new ClusterNode(p, seedList, roleList, parse.GetValue(insecure));
            if (LabOptions.SecurityNote(ctx, node.Insecure) is { } note) ctx.Err.WriteLine(note);
            using var shared = store.AcquireShared();
            using var host = LabHost.Build(ctx.Options, new LabProcess(store, roleList.Contains("coordinator"), count, node), log: ctx.Err.WriteLine, verbose: parse.GetValue(QuantLabCli.Verbose));
            await LabHost.StartAsync(host, cancel);
            try
            {
                var system = (ActorSystem)host.Services.GetService(typeof(ActorSystem))!;
                await LabHost.AwaitJoinedAsync(system, node, TimeSpan.FromSeconds(ctx.Options.Cluster.JoinTimeoutSeconds), cancel);
                ctx.Err.WriteLine($"node {((ExtendedActorSystem)system).Provider.DefaultAddress} is up: roles {string.Join(',', roleList)}, {count} workers, {store.Name}" +
                                  (host.Services.GetService(typeof(LabTls.Credentials)) is LabTls.Credentials tls ? $", mutual TLS as {tls.Subject}" : ""));
                // A node runs until Ctrl+C or SIGTERM (its normal end, handled below: exit 0), or until the cluster removes it.
                await Task.WhenAny(system.WhenTerminated, Task.Delay(Timeout.Infinite, cancel));
                cancel.ThrowIfCancellationRequested();
                throw new InfrastructureException("this node left the cluster (removed by the split-brain resolver or shut down)");
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                ctx.Err.WriteLine("stopping: leaving the cluster");
                return 0;
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
        });
        return command;
    }
}
