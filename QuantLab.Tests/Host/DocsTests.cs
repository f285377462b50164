using System.Text.RegularExpressions;

namespace QuantLab.Tests.Host;

/// <summary>The README, the docs and --help stand on their own beside a clone: every relative link leads to a
/// file (and heading) of the repository, and no text points outside it.</summary>
public sealed partial class DocsTests
{
    [Theory]
    [InlineData("README.md")]
    [InlineData("docs/design.md")]
    public void Every_relative_link_resolves_inside_the_repository(string document)
    {
        var root = LayeringTests.RepositoryRoot();
        var path = Path.Combine(root, document);
        var text = File.ReadAllText(path);
        Assert.DoesNotMatch(@"`\.\./", text);   // a path beside the repository, which a clone does not have
        foreach (Match link in Link().Matches(text))
        {
            var target = link.Groups[1].Value;
            if (target.StartsWith("http", StringComparison.Ordinal)) continue;
            var parts = target.Split('#', 2);
            var file = parts[0] == "" ? path : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, parts[0]));
            Assert.True(file.StartsWith(root, StringComparison.Ordinal) && File.Exists(file), $"{document}: link {target} leads to no file of the repository");
            if (parts.Length == 2)
                Assert.True(Headings(file).Contains(parts[1]), $"{document}: link {target}: no such heading in {parts[0]}");
        }
    }

    [Fact]
    public void Status_help_shows_the_campaign_as_optional()
    {
        var r = CliRunner.Run("status", "--help");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(" status [<campaign>] [options]", r.Out);   // the program name differs in-process
        // The verb list writes every argument as <name> (System.CommandLine's help layout is not public): the
        // description says it is optional.
        Assert.Contains("the campaign is optional", CliRunner.Run("--help").Out);
    }

    /// <summary>GitHub's anchors of a Markdown file's headings: lower case, punctuation dropped, spaces as '-'.</summary>
    private static HashSet<string> Headings(string file) =>
        File.ReadLines(file).Where(l => l.StartsWith('#'))
            .Select(l => Regex.Replace(l.TrimStart('#').Trim().ToLowerInvariant(), @"[^\p{L}\p{N} _-]", "").Replace(' ', '-'))
            .ToHashSet(StringComparer.Ordinal);

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex Link();
}
