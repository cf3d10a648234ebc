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

    /// <summary>A heatmap of <paramref name="values"/> [rows, columns] in [0.5, 1] with labelled rows and columns (slice probes).</summary>
    public static void Heatmap(string path, string title, string[] rowLabels, string[] columnLabels, double[,] values)
    {
        var plt = new Plot();
        var hm = plt.Add.Heatmap(values);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        hm.ManualRange = new ScottPlot.Range(0.5, 1.0);
        plt.Add.ColorBar(hm);
        int rows = rowLabels.Length;
        // the heatmap draws row 0 at the top: cell centres at y = rows - 1 - i
        plt.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(i => (double)(rows - 1 - i)).ToArray(), rowLabels);
        plt.Axes.Bottom.SetTicks(Enumerable.Range(0, columnLabels.Length).Select(i => (double)i).ToArray(), columnLabels);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < columnLabels.Length; j++)
            {
                var t = plt.Add.Text(values[i, j].ToString("F2", CultureInfo.InvariantCulture), j, rows - 1 - i);
                t.Alignment = Alignment.MiddleCenter;
                t.LabelFontColor = values[i, j] > 0.8 ? Colors.Black : Colors.White;
            }
        plt.Title(title);
        Save(plt, path, width: 1000);
    }

    private static void Save(Plot plt, string path, int width = 900)
    {
        string tmp = path + ".tmp.png";
        plt.SavePng(tmp, width, 560);
        File.Move(tmp, path, overwrite: true);
    }
}
