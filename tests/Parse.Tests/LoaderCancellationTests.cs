using Parse.Config;
using Parse.Data;
using Parse.Data.Tabular;

namespace Parse.Tests;

/// <summary>
/// Ctrl-C / SIGTERM inside a dataset loader: a long CSV read stops within a few thousand rows of the cancellation, and a
/// cancelled load returns nothing and writes nothing (the CLI turns it into exit code 130 with no run directory).
/// </summary>
public sealed class LoaderCancellationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-loader-cancel").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string WriteCsv(int rows)
    {
        string path = Path.Combine(_dir, "big.csv");
        using var w = new StreamWriter(path);
        w.WriteLine("a,b,label");
        for (int i = 0; i < rows; i++) w.WriteLine($"{i % 7}.5,{i % 3},{(i % 2 == 0 ? "x" : "y")}");
        return path;
    }

    [Fact]
    public void A_csv_read_stops_within_a_few_thousand_rows_of_the_cancellation()
    {
        string path = WriteCsv(100_000);
        using var cts = new CancellationTokenSource();
        int seen = 0;
        var q = new TableRequest(path)
        {
            Views = [("v", null, null)], Ranges = [null], KeyColumns = ["label"], Label = "label", LabelRequired = true, Cancellation = cts.Token,
            // the row callback plays the user pressing Ctrl-C at row 1,000
            Keep = (position, _, _) => { seen++; if (position == 1000) cts.Cancel(); return true; },
        };
        Assert.ThrowsAny<OperationCanceledException>(() => CsvSource.Read(q));
        Assert.InRange(seen, 1001, 1001 + CsvSource.CancelCheckRows);
        // without cancellation the same read goes through every row
        seen = 0;
        var all = CsvSource.Read(q with { Cancellation = CancellationToken.None, Keep = (_, _, _) => { seen++; return true; } });
        Assert.Equal(100_000, all.Rows);
        Assert.Equal(100_000, seen);
    }

    [Fact]
    public void A_cancelled_multiview_load_throws_and_the_registry_passes_the_token()
    {
        string path = WriteCsv(20_000);
        var cfg = ConfigLoader.FromText($$"""
            data:
              name: multiview-csv
              modalities: [v1, v2]
              file: "{{path}}"
              label_column: label
              views: { v1: { columns: [a] }, v2: { columns: [b] } }
            """, null, "test").Data;
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => MultiviewCsv.Load(cfg, _dir, 1, 2, ct: cts.Token));
        Assert.ThrowsAny<OperationCanceledException>(() => DatasetRegistry.Load(cfg, 2, 1, _dir, ct: cts.Token));
        // nothing was written beside the data
        Assert.Equal(["big.csv"], Directory.GetFiles(_dir).Select(Path.GetFileName));
        using var loaded = MultiviewCsv.Load(cfg, _dir, 1, 2);
        Assert.True(loaded.Train.Count > 0);
    }
}
