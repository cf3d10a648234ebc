using System.Globalization;
using Parse.Simulation;
using Spectre.Console;

namespace Parse.Cli;

/// <summary>
/// Progress of a run: a live table on an interactive terminal, one plain line per evaluation otherwise
/// (CI logs, pipes).
/// </summary>
internal sealed class ConsoleProgress : IProgress<RoundProgress>
{
    private readonly bool _quiet;
    private readonly bool _interactive;
    private readonly Dictionary<string, double> _last = new();
    private readonly DateTime _start = DateTime.UtcNow;
    private LiveDisplayContext? _live;
    private Table? _table;

    public ConsoleProgress(bool quiet)
    {
        _quiet = quiet;
        _interactive = !quiet && AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
    }

    /// <summary>Runs <paramref name="work"/> inside a live display when interactive.</summary>
    public T Run<T>(Func<T> work)
    {
        if (!_interactive) return work();
        _table = new Table().Border(TableBorder.Rounded).AddColumn("round").AddColumn("agent type").AddColumn("accuracy").AddColumn("bytes sent").AddColumn("elapsed");
        T result = default!;
        AnsiConsole.Live(_table).AutoClear(false).Start(ctx =>
        {
            _live = ctx;
            result = work();
        });
        return result;
    }

    public void Report(RoundProgress p)
    {
        if (_quiet) return;
        foreach (var (t, a) in p.AccuracyByType) _last[t] = a;
        string elapsed = (DateTime.UtcNow - _start).TotalSeconds.ToString("F1", CultureInfo.InvariantCulture) + " s";
        string bytes = FormatBytes(p.BytesSentTotal);
        if (_interactive && _table is not null && _live is not null)
        {
            _table.Rows.Clear();
            if (_last.Count == 0) _table.AddRow($"{p.Round}/{p.Rounds}", "-", "-", bytes, elapsed);
            bool first = true;
            foreach (var (t, a) in _last)
            {
                _table.AddRow(first ? $"{p.Round}/{p.Rounds}" : "", t, a.ToString("F3", CultureInfo.InvariantCulture), first ? bytes : "", first ? elapsed : "");
                first = false;
            }
            _live.Refresh();
            return;
        }
        if (!p.Evaluated) return;
        string accs = string.Join("  ", p.AccuracyByType.Select(kv => $"{kv.Key}={kv.Value.ToString("F3", CultureInfo.InvariantCulture)}"));
        Console.WriteLine($"round {p.Round,4}/{p.Rounds}  acc {accs}  train-loss {p.MeanTrainLoss.ToString("F3", CultureInfo.InvariantCulture)}  sent {bytes}  {elapsed}");
    }

    internal static string FormatBytes(long b) => b switch
    {
        < 1024 => $"{b} B",
        < 1048576 => (b / 1024.0).ToString("F1", CultureInfo.InvariantCulture) + " KiB",
        < 1073741824 => (b / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) + " MiB",
        _ => (b / 1073741824.0).ToString("F2", CultureInfo.InvariantCulture) + " GiB",
    };
}
