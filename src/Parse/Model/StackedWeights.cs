namespace Parse.Model;

/// <summary>
/// Head weights of the <c>stacked</c> ensemble: the ensemble is log_softmax(sum_h w_h log p_h) with w_h >= 0 (a
/// weighted product of experts; w_h = 1/H and no renormalization is the plain mean of log-probabilities). The
/// weights minimize the mean negative log-likelihood on held-out samples plus <c>l2</c> * |w|^2. That objective
/// is convex in w (a log-sum-exp of linear functions minus a linear term), so projected gradient descent with a
/// backtracking line search finds its minimum; the result is deterministic.
/// </summary>
public static class StackedWeights
{
    /// <summary>Fits the weights.</summary>
    /// <param name="logProbs">Per-head log-probabilities, row-major [heads, samples, classes].</param>
    /// <param name="heads">Number of heads.</param>
    /// <param name="samples">Number of held-out samples.</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="labels">Label of each held-out sample.</param>
    /// <param name="l2">Ridge penalty on the weights (keeps them finite when a head is perfect on the hold-out).</param>
    /// <param name="iterations">Most gradient steps.</param>
    public static double[] Fit(double[] logProbs, int heads, int samples, int classes, IReadOnlyList<int> labels,
        double l2 = 1e-3, int iterations = 300)
    {
        if (logProbs.Length != heads * samples * classes)
            throw new ArgumentException($"expected {heads}x{samples}x{classes} log-probabilities, got {logProbs.Length}", nameof(logProbs));
        if (labels.Count != samples) throw new ArgumentException($"expected {samples} labels, got {labels.Count}", nameof(labels));
        var w = Enumerable.Repeat(1.0 / heads, heads).ToArray();
        var grad = new double[heads];
        double f = Objective(w, grad);
        double step = 1.0;
        for (int it = 0; it < iterations; it++)
        {
            var next = new double[heads];
            var nextGrad = new double[heads];
            double fNext;
            // backtracking on the projected step: accept when the sufficient-decrease condition holds
            while (true)
            {
                double decrease = 0;
                for (int h = 0; h < heads; h++)
                {
                    next[h] = Math.Max(0, w[h] - step * grad[h]);
                    decrease += grad[h] * (w[h] - next[h]) - (w[h] - next[h]) * (w[h] - next[h]) / (2 * step);
                }
                fNext = Objective(next, nextGrad);
                if (fNext <= f - decrease + 1e-12 || step < 1e-10) break;
                step /= 2;
            }
            double moved = 0;
            for (int h = 0; h < heads; h++) moved = Math.Max(moved, Math.Abs(next[h] - w[h]));
            (w, grad, f) = (next, nextGrad, fNext);
            if (moved < 1e-7) break;
            step *= 2;   // let the step grow again after a successful one
        }
        return w;

        // mean NLL + l2 |w|^2 and its gradient
        double Objective(double[] wt, double[] g)
        {
            Array.Clear(g);
            double nll = 0;
            var z = new double[classes];
            for (int n = 0; n < samples; n++)
            {
                double max = double.NegativeInfinity;
                for (int c = 0; c < classes; c++)
                {
                    double s = 0;
                    for (int h = 0; h < heads; h++) s += wt[h] * logProbs[(h * samples + n) * classes + c];
                    z[c] = s;
                    max = Math.Max(max, s);
                }
                double sum = 0;
                for (int c = 0; c < classes; c++) sum += Math.Exp(z[c] - max);
                double lse = max + Math.Log(sum);
                int y = labels[n];
                nll += lse - z[y];
                for (int h = 0; h < heads; h++)
                {
                    double expected = 0;
                    for (int c = 0; c < classes; c++) expected += Math.Exp(z[c] - lse) * logProbs[(h * samples + n) * classes + c];
                    g[h] += expected - logProbs[(h * samples + n) * classes + y];
                }
            }
            double pen = 0;
            for (int h = 0; h < heads; h++)
            {
                g[h] = g[h] / samples + 2 * l2 * wt[h];
                pen += wt[h] * wt[h];
            }
            return nll / samples + l2 * pen;
        }
    }
}
