using QuantLab.Fuzz;

namespace QuantLab.Tests.Fuzz;

/// <summary>
/// The fuzz targets' checked-in inputs, run without AFL++: the seed corpus (fuzz/corpus) and every input a fuzzing
/// run found to fail (fuzz/regressions, one file per finding, named after it). Each must end in the target's
/// documented bad-input exception or in success; the generated seeds must succeed.
/// </summary>
public class FuzzCorpusTests
{
    private static string FuzzDirectory([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "fuzz"));

    public static IEnumerable<object[]> Targets() => FuzzTargets.All.Select(t => new object[] { t.Name });

    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_checked_in_input_ends_in_success_or_a_documented_bad_input_error(string name)
    {
        var target = FuzzTargets.Get(name);
        var files = new[] { "corpus", "regressions" }
            .Select(d => Path.Combine(FuzzDirectory(), d, name)).Where(Directory.Exists)
            .SelectMany(Directory.GetFiles).ToList();
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var e = FuzzRunner.Undocumented(target, File.ReadAllBytes(file));
            Assert.True(e is null, $"{file}: {e}");
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void A_valid_seed_is_accepted_whole(string name)
    {
        var target = FuzzTargets.Get(name);
        var corpus = Path.Combine(FuzzDirectory(), "corpus", name);
        foreach (var file in Directory.GetFiles(corpus))
            target.Run(File.ReadAllBytes(file));   // no exception at all
        // The generated seed checked in is the one the harness writes now (else: quantlab-fuzz --seeds fuzz/corpus).
        if (FuzzTargets.Seeds().TryGetValue(name, out var generated))
            Assert.Equal(generated, File.ReadAllBytes(Path.Combine(corpus, "generated-valid")));
    }

    [Fact]
    public void The_findings_each_fail_as_they_did_before_the_fix_would_have_let_them()
    {
        // Each regression input is bad input: the target must refuse it (a documented exception), not accept it.
        foreach (var target in FuzzTargets.All)
        {
            var dir = Path.Combine(FuzzDirectory(), "regressions", target.Name);
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.GetFiles(dir))
            {
                var thrown = Record.Exception(() => target.Run(File.ReadAllBytes(file)));
                Assert.True(thrown is not null && target.Documented(thrown), $"{file}: expected a documented bad-input error, got {thrown?.GetType().Name ?? "success"}");
            }
        }
    }
}
