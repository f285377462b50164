using System.Net;
using System.Net.Sockets;

namespace QuantLab.Tests.Host;

/// <summary>Infrastructure failures: a clear message and exit code 3, nothing recorded.</summary>
public sealed class InfrastructureFailureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-infra-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [Fact]
    public void Submitting_to_a_seed_node_that_does_not_answer_exits_3()
    {
        var spec = Path.Combine(_dir, "s.json");
        File.WriteAllText(spec, """{ "name": "nobody-home", "train": [{ "id": "a" }] }""");
        var config = LabTestSupport.Configuration(new Dictionary<string, string> { ["QuantLab:Cluster:JoinTimeoutSeconds"] = "3" });
        var r = LabTestSupport.Run(config, "submit", spec, "--seed-nodes", $"akka.tcp://quantlab@127.0.0.1:{FreePort()}");
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Contains("127.0.0.1", r.Err);
    }

    [Fact]
    public void A_database_locked_by_another_writer_exits_3_and_records_nothing()
    {
        var db = Path.Combine(_dir, "lab.db");
        var spec = Path.Combine(_dir, "s.json");
        File.WriteAllText(spec, """{ "name": "locked", "train": [{ "id": "a" }] }""");
        var config = LabTestSupport.Configuration(new Dictionary<string, string> { ["QuantLab:Orchestration:Executor"] = "synthetic" });
        // Create the database, then hold an exclusive lock on it as another process would.
        var first = LabTestSupport.Run(config, "run", Path.Combine(_dir, "s.json"), "--db", db);
        Assert.True(first.ExitCode == 0, first.ToString());
        File.WriteAllText(spec, """{ "name": "locked2", "train": [{ "id": "b" }] }""");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        using var holder = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db};Pooling=False");
        holder.Open();
        using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "BEGIN EXCLUSIVE;";
            begin.ExecuteNonQuery();
        }
        var locked = LabTestSupport.Run(config, "run", spec, "--db", db);
        Assert.True(locked.ExitCode == 3, locked.ToString());
        using (var rollback = holder.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK;";
            rollback.ExecuteNonQuery();
        }
        var status = LabTestSupport.Run(config, "status", "locked2", "--db", db);
        Assert.Equal(2, status.ExitCode); // unknown campaign: nothing of it was recorded
    }
}
