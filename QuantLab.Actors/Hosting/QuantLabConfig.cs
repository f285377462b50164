using Akka.Configuration;
using QuantLab.Actors.Storage;

namespace QuantLab.Actors.Hosting;

/// <summary>
/// The HOCON QuantLab needs, in one place: used as is by plain ActorSystems (tests, the read side of
/// <c>status</c> and <c>report</c>) and added to Akka.Hosting by <see cref="QuantLabHostingExtensions"/>.
/// </summary>
/// <remarks>
/// Why HOCON and not Akka.Hosting's typed options: the SQL journal's typed options live in
/// Akka.Persistence.Sql.Hosting, whose newest version in the feed (1.5.70) fails at start with the linq2db 6.5.1
/// that Akka.Persistence.Sql 1.5.73 needs (DESIGN.md §8); and the serializer binding must be the same for plain
/// ActorSystems, which have no Akka.Hosting builder, so it is written once here (its identifier is part of every
/// stored event). Remoting, clustering and logging are typed (QuantLab.Host's <c>LabHost</c>).
/// </remarks>
public static class QuantLabConfig
{
    public const string JournalPlugin = "akka.persistence.journal.sql";
    public const string SnapshotPlugin = "akka.persistence.snapshot-store.sql";
    public const string ReadJournalPlugin = "akka.persistence.query.journal.sql";

    /// <summary>Binds every QuantLab event and message to <see cref="QuantLab.Actors.Serialization.QuantLabSerializer"/>.</summary>
    public static Config Serialization() => ConfigurationFactory.ParseString($$"""
        akka.actor {
          serializers.quantlab = "{{typeof(QuantLab.Actors.Serialization.QuantLabSerializer).AssemblyQualifiedNameShort()}}"
          serialization-bindings {
            "{{typeof(Messages.IQuantLabMessage).AssemblyQualifiedNameShort()}}" = quantlab
          }
          serialization-identifiers {
            "{{typeof(QuantLab.Actors.Serialization.QuantLabSerializer).AssemblyQualifiedNameShort()}}" = {{QuantLab.Actors.Serialization.QuantLabSerializer.Id}}
          }
        }
        """);

    /// <summary>
    /// Journal, snapshots and read journal in any database linq2db knows (<see cref="LabStore.Persistence"/> gives
    /// each provider's). SQLite allows one writer, hence parallelism 1 there.
    /// </summary>
    /// <param name="createTables">Whether the plugins create their tables when they start (auto-initialize): never
    /// where several processes could start at once on a fresh database (they race on CREATE TABLE).</param>
    public static Config SqlPersistence(string connectionString, string providerName, int writeParallelism, bool createTables, TimeSpan? queryRefresh = null)
    {
        var refresh = (int)(queryRefresh ?? TimeSpan.FromSeconds(1)).TotalMilliseconds;
        var cs = Quote(connectionString);
        return ConfigurationFactory.ParseString($$"""
            akka.persistence {
              journal {
                plugin = "{{JournalPlugin}}"
                sql {
                  connection-string = {{cs}}
                  provider-name = "{{providerName}}"
                  parallelism = {{writeParallelism}}
                  auto-initialize = {{(createTables ? "true" : "false")}}
                  tag-write-mode = TagTable
                }
              }
              snapshot-store {
                plugin = "{{SnapshotPlugin}}"
                sql {
                  connection-string = {{cs}}
                  provider-name = "{{providerName}}"
                  auto-initialize = {{(createTables ? "true" : "false")}}
                }
              }
              query.journal.sql {
                connection-string = {{cs}}
                provider-name = "{{providerName}}"
                write-plugin = "{{JournalPlugin}}"
                tag-read-mode = TagTable
                refresh-interval = {{refresh}}ms
                journal-sequence-retrieval.query-delay = {{refresh}}ms
              }
            }
            """).WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static string AssemblyQualifiedNameShort(this Type t) => $"{t.FullName}, {t.Assembly.GetName().Name}";
}
