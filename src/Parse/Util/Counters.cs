namespace Parse.Util;

/// <summary>Counting in dictionaries (bytes per link, rejections per reason, ...).</summary>
public static class Counters
{
    /// <summary>Adds <paramref name="by"/> to the counter at <paramref name="key"/> (starting from 0).</summary>
    public static void Add<TKey>(IDictionary<TKey, long> counts, TKey key, long by = 1) where TKey : notnull =>
        counts[key] = (counts.TryGetValue(key, out long v) ? v : 0) + by;
}
