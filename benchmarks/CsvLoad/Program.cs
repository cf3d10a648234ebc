// Load-time and peak-memory measure of multiview-csv (docs/performance.md):
//   dotnet run -c Release --project benchmarks/CsvLoad -- generate DIR [ROWS]   writes DIR/big.csv (default 1,250,000 rows x 21 columns)
//   dotnet run -c Release --project benchmarks/CsvLoad -- load DIR              loads it as two views of 10 columns + label
// Loading runs in its own process so that its peak working set is the loader's alone.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Parse.Config;
using Parse.Data;

if (args.Length < 2 || args[0] is not ("generate" or "load"))
{
    Console.Error.WriteLine("usage: CsvLoad generate DIR [ROWS] | CsvLoad load DIR");
    return 2;
}
string dir = Path.GetFullPath(args[1]);
string file = Path.Combine(dir, "big.csv");
if (args[0] == "generate")
{
    int rows = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1_250_000;
    Directory.CreateDirectory(dir);
    var rng = new Random(1);
    using (var w = new StreamWriter(file + ".tmp", false, new UTF8Encoding(false), 1 << 20))
    {
        w.WriteLine(string.Join(",", Enumerable.Range(0, 20).Select(i => $"f{i}").Append("label")));
        var sb = new StringBuilder();
        for (int r = 0; r < rows; r++)
        {
            sb.Clear();
            double s = 0;
            for (int c = 0; c < 20; c++)
            {
                double x = rng.NextDouble() * 2 - 1;
                s += c < 3 ? x : 0;
                sb.Append(x.ToString("F5", CultureInfo.InvariantCulture)).Append(',');
            }
            sb.Append(s > 0 ? "pos" : "neg");
            w.WriteLine(sb);
        }
    }
    File.Move(file + ".tmp", file, true);
    Console.WriteLine($"wrote {file}: {rows} rows x 21 columns, {new FileInfo(file).Length / 1e6:F1} MB");
    return 0;
}

var cfg = new DataConfig
{
    Name = "multiview-csv",
    Modalities = ["a", "b"],
    File = file,
    TestFraction = 0.2,
    Views = new()
    {
        ["a"] = new ViewConfig { Columns = Enumerable.Range(0, 10).Select(i => $"f{i}").ToList() },
        ["b"] = new ViewConfig { Columns = Enumerable.Range(10, 10).Select(i => $"f{i}").ToList() },
    },
};
using (var warm = TorchSharp.torch.zeros(1)) { }   // load the native library before the baseline
var proc = Process.GetCurrentProcess();
proc.Refresh();
long baseline = proc.WorkingSet64;
var cpu0 = proc.TotalProcessorTime;
var sw = Stopwatch.StartNew();
using var d = MultiviewCsv.Load(cfg, dir, 1);
sw.Stop();
proc.Refresh();
double cpu = (proc.TotalProcessorTime - cpu0).TotalSeconds;
long size = new FileInfo(file).Length;
double peakMb = proc.PeakWorkingSet64 / 1e6;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"file {size / 1e6:F1} MB; train {d.Train.Count} + test {d.Test.Count} rows; load {sw.Elapsed.TotalSeconds:F2} s wall, {cpu:F2} s CPU; " +
    $"peak working set {peakMb:F0} MB ({peakMb * 1e6 / size:F2}x the file), baseline before loading {baseline / 1e6:F0} MB, " +
    $"peak above baseline {(proc.PeakWorkingSet64 - baseline) / 1e6:F0} MB ({(proc.PeakWorkingSet64 - baseline) / (double)size:F2}x)"));
return 0;
