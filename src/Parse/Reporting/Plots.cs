using System.Globalization;
using ScottPlot;

namespace Parse.Reporting;

/// <summary>PNG figures (ScottPlot, headless).</summary>
public static class Plots
{
    /// <summary>One line per series over rounds, e.g. accuracy per agent type per method.</summary>
    public static void Lines(string path, string title, string yLabel, IReadOnlyDictionary<string, (double[] X, double[] Y)> series, string xLabel = "round")
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category20();
        int i = 0;
        foreach (var (name, (x, y)) in series.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (x.Length == 0) continue;
            var s = plt.Add.Scatter(x, y);
            s.LegendText = name;
            s.Color = palette.GetColor(i);
            s.LineWidth = 2;
            // more series than colours: switch the line pattern so no two series look alike
            if (i >= 20) s.LinePattern = LinePattern.Dashed;
            i++;
        }
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        plt.ShowLegend(Edge.Right);
        Save(plt, path, width: 1200);
    }

    /// <summary>A bar per label (e.g. mean bytes per link per round per method).</summary>
    public static void Bars(string path, string title, string yLabel, IReadOnlyList<(string Label, double Value)> bars)
    {
        var plt = new Plot();
        var b = plt.Add.Bars(bars.Select(x => x.Value).ToArray());
        _ = b;
        plt.Axes.Bottom.SetTicks(Enumerable.Range(0, bars.Count).Select(i => (double)i).ToArray(), bars.Select(x => x.Label).ToArray());
        plt.Axes.Margins(bottom: 0);
        plt.Title(title);
        plt.YLabel(yLabel);
        Save(plt, path);
    }

    /// <summary>2-D scatter coloured by class (slice embeddings).</summary>
    public static void Scatter2D(string path, string title, double[] x, double[] y, int[] labels)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category20();
        foreach (var c in labels.Distinct().Order())
        {
            var idx = Enumerable.Range(0, labels.Length).Where(i => labels[i] == c).ToArray();
            var s = plt.Add.ScatterPoints(idx.Select(i => x[i]).ToArray(), idx.Select(i => y[i]).ToArray());
            s.LegendText = c.ToString(CultureInfo.InvariantCulture);
            s.MarkerSize = 4;
            s.Color = palette.GetColor(c);
        }
        plt.Title(title);
        plt.ShowLegend(Alignment.UpperRight);
        Save(plt, path);
    }

    private static void Save(Plot plt, string path, int width = 900)
    {
        string tmp = path + ".tmp.png";
        plt.SavePng(tmp, width, 560);
        File.Move(tmp, path, overwrite: true);
    }
}
