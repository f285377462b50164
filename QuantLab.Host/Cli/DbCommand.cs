using System.CommandLine;
using QuantLab.Actors.Storage;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab db init</c>: creates or upgrades the lab's database schema, once, before any node starts.</summary>
public static class DbCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var db = LabOptions.Database();
        var json = new Option<bool>("--json") { Description = "Print one JSON document: database (the SQLite file's path, or the PostgreSQL server, database and user), provider, before (the schema version found, null for none), version" };
        var init = new Command("init",
            "Create the database's tables (QuantLab's and Akka.Persistence's) or upgrade them to this QuantLab's schema; safe to run again. " +
            "Needed once for PostgreSQL (nodes never create tables); a SQLite file is also created by 'run' and 'node'")
        {
            db, json,
        };
        init.SetAction(async (parse, cancel) =>
        {
            var ctx = context();
            var store = LabOptions.Store(ctx, parse.GetValue(db));
            var outcome = await DbInit.RunAsync(store, TimeSpan.FromMinutes(1));
            if (parse.GetValue(json))
                // A JsonObject, so that before is written as null for a new database (the output options drop null properties).
                ctx.WriteJson(new System.Text.Json.Nodes.JsonObject
                {
                    ["database"] = store is SqliteLabStore sqlite ? sqlite.Path : store.Name,
                    ["provider"] = store.Provider,
                    ["before"] = outcome.Before,
                    ["version"] = outcome.After,
                });
            else
                ctx.Out.WriteLine(outcome.Before switch
                {
                    null => $"{store.Name}: schema version {outcome.After} created",
                    var v when v == outcome.After => $"{store.Name}: schema version {v} is current; nothing to change",
                    var v => $"{store.Name}: schema upgraded from version {v} to {outcome.After}",
                });
            return 0;
        });
        return new Command("db", "The lab's database (QuantLab:Storage: a SQLite file, or PostgreSQL)") { init };
    }
}
