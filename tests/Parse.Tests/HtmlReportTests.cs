using System.Text.RegularExpressions;
using Parse.Bench;
using Parse.Reporting;
using Parse.Simulation;

namespace Parse.Tests;

/// <summary>report.html of runs and benches: self-contained (plots as data URIs), and loaded by a real headless browser.</summary>
[Collection("cli")]
public class HtmlReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-html").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static readonly byte[] Png = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a];

    /// <summary>Every src/href of the page: images are PNG data URIs, nothing else is referenced.</summary>
    private static List<byte[]> AssertSelfContained(string html)
    {
        var refs = Regex.Matches(html, "(?:src|href)=\"([^\"]*)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.All(refs, r => Assert.True(r.StartsWith("data:image/png;base64,", StringComparison.Ordinal) || r.StartsWith('#'), $"external reference: {r[..Math.Min(80, r.Length)]}"));
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        var images = refs.Where(r => r.StartsWith("data:", StringComparison.Ordinal)).Select(r => Convert.FromBase64String(r["data:image/png;base64,".Length..])).ToList();
        Assert.All(images, b => Assert.True(b.Length > 1000 && b.AsSpan(0, 8).SequenceEqual(Png)));
        return images;
    }

    [Fact]
    public void Markdown_tables_keep_escaped_pipes_in_their_cells_and_images_are_embedded()
    {
        File.WriteAllBytes(Path.Combine(_dir, "fig.png"), [.. Png, .. new byte[2000]]);
        string md = "# Title\n\nText with `code|x` and **bold** and [a link](https://example.org) and [anchor](#title).\n\n" +
                    "## Table one\n\n| key | value |\n|---|---:|\n| `a\\|b` | 1.000 |\n| c<d | 2 |\n\n![a figure](fig.png)\n\n![gone](missing.png)\n";
        string html = HtmlReport.FromMarkdown(md, "t & t", _dir);
        Assert.Contains("<title>t &amp; t</title>", html);
        Assert.Contains("<table data-section=\"table-one\">", html);
        Assert.Contains("<td><code>a|b</code></td><td class=\"num\">1.000</td>", html);
        Assert.Contains("<td>c&lt;d</td>", html);
        Assert.Contains("<strong>bold</strong>", html);
        Assert.Contains("<a href=\"#title\">anchor</a>", html);
        Assert.DoesNotContain("example.org", html);   // outside links are kept as plain text
        Assert.Contains("[figure not available: missing.png]", html);
        Assert.Single(AssertSelfContained(html));
        Assert.Equal(["a|b", "1", ""], HtmlReport.Cells("| a\\|b | 1 | |"));
    }

    [SkippableFact]
    public void A_run_report_loads_in_headless_chromium_without_console_messages_and_shows_the_accuracy_table()
    {
        string outDir = Path.Combine(_dir, "html-run");
        ExperimentRunner.Run(TestConfigs.Load("rounds=2", "eval.every=1", "eval.embeddings=false"), outDir, _dir);
        string file = Path.Combine(outDir, "report.html");
        string html = File.ReadAllText(file);
        var images = AssertSelfContained(html);
        // one accuracy figure per agent type (a, b, a+b) and accuracy vs bytes, the same bytes as the PNG files
        Assert.Equal(4, images.Count);
        Assert.Contains(images, b => b.SequenceEqual(File.ReadAllBytes(Path.Combine(outDir, RunWriter.AccuracyPlotName("a+b")))));
        Assert.Contains("![accuracy a b](accuracy_a_b.png)", File.ReadAllText(Path.Combine(outDir, "report.md")));

        var page = HeadlessChromium.Load(file);
        Assert.True(page.Console.Count == 0, "console messages:\n" + string.Join("\n", page.Console));
        var table = Regex.Match(page.Dom, "<table data-section=\"final-test-accuracy-per-agent-type\">(.*?)</table>", RegexOptions.Singleline);
        Assert.True(table.Success, "accuracy table missing from the DOM:\n" + page.Dom[..Math.Min(2000, page.Dom.Length)]);
        foreach (var type in new[] { "<td>a</td>", "<td>b</td>", "<td>a+b</td>", "<td>all</td>" }) Assert.Contains(type, table.Value);
        Assert.Equal(4, Regex.Matches(page.Dom, "<img [^>]*src=\"data:image/png;base64,").Count);

        string shot = Path.Combine(_dir, "report.png");
        HeadlessChromium.Load(file, shot);
        Assert.True(File.ReadAllBytes(shot).AsSpan(0, 8).SequenceEqual(Png));
        if (Environment.GetEnvironmentVariable("PARSE_KEEP_SCREENSHOT") is { Length: > 0 } keep) File.Copy(shot, keep, overwrite: true);
    }

    [SkippableFact]
    public void The_browser_check_sees_console_errors_and_blocked_resources()
    {
        string file = Path.Combine(_dir, "bad.html");
        File.WriteAllText(file, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>bad</title></head><body>" +
                                "<p>x</p><script>console.error('boom-from-page'); undefinedFunction();</script></body></html>");
        var page = HeadlessChromium.Load(file);
        Assert.Contains(page.Console, l => l.Contains("boom-from-page", StringComparison.Ordinal));
        Assert.Contains(page.Console, l => l.Contains("undefinedFunction", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void A_bench_writes_a_self_contained_report_that_loads_in_headless_chromium()
    {
        File.WriteAllText(Path.Combine(_dir, "base.yaml"), TestConfigs.Small);
        File.WriteAllText(Path.Combine(_dir, "grid.yaml"), """
            name: html
            base: base.yaml
            set: [rounds=1, eval.every=1, eval.embeddings=false]
            axes:
              method:
                parse: { strategy: parse }
                local: { strategy: local }
              seed: [1]
            """);
        string outDir = Path.Combine(_dir, "bench");
        BenchRunner.Run(GridSpec.Load(Path.Combine(_dir, "grid.yaml")), outDir);
        string file = Path.Combine(outDir, "report.html");
        var images = AssertSelfContained(File.ReadAllText(file));
        Assert.True(images.Count >= 4, $"{images.Count} figures");   // accuracy per type (3), bytes per link
        // every cell is an ordinary run directory: its own report.html and TensorBoard events
        foreach (var cell in Directory.GetDirectories(Path.Combine(outDir, "cells")))
        {
            Assert.True(File.Exists(Path.Combine(cell, "report.html")));
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(cell, TensorBoardLog.DirectoryName), "events.out.tfevents.*"));
        }
        var page = HeadlessChromium.Load(file);
        Assert.True(page.Console.Count == 0, "console messages:\n" + string.Join("\n", page.Console));
        var table = Regex.Match(page.Dom, "<table data-section=\"bench-html\">(.*?)</table>", RegexOptions.Singleline);
        Assert.True(table.Success, "results table missing from the DOM");
        Assert.Contains("<td>parse</td>", table.Value);
        Assert.Contains("<td>local</td>", table.Value);
        Assert.Contains("a+b", table.Value);
    }
}
