using System.Diagnostics;
using QuantLab.Host.Reports;

namespace QuantLab.Tests.Host;

/// <summary>The HTML report in a real browser: headless Chromium (Debian's package, installed by
/// .ci/run) renders it to a PNG.</summary>
public sealed class HtmlReportRenderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-html-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    public static string? FindChromium() =>
        new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);

    [Fact]
    public async Task The_html_report_renders_in_headless_chromium()
    {
        var chromium = FindChromium();
        Assert.True(chromium is not null, "headless Chromium is needed for this test: apt-get install chromium (.ci/run installs it)");
        var html = Path.Combine(_dir, "report.html");
        File.WriteAllText(html, ReportWriter.Html(CampaignReport.Build(ReportTestsData.Recorded())));
        var png = Path.Combine(_dir, "report.png");

        var start = new ProcessStartInfo(chromium!)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var arg in new[]
                 {
                     "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", $"--user-data-dir={Path.Combine(_dir, "profile")}",
                     "--window-size=1200,1600", $"--screenshot={png}", new Uri(html).AbsoluteUri,
                 })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("Chromium did not finish within 90 s");
        }
        Assert.True(File.Exists(png), $"no screenshot; chromium said: {await stderr}");
        var bytes = File.ReadAllBytes(png);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        // Width and height from the IHDR chunk: the page was laid out at the window size.
        int width = bytes[16] << 24 | bytes[17] << 16 | bytes[18] << 8 | bytes[19];
        int height = bytes[20] << 24 | bytes[21] << 16 | bytes[22] << 8 | bytes[23];
        Assert.Equal((1200, 1600), (width, height));
        Assert.True(bytes.Length > 30_000, $"the screenshot is {bytes.Length} bytes: an empty page?");
    }
}
