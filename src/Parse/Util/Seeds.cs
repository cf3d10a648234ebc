namespace Parse.Util;

/// <summary>Stable seed derivation (string.GetHashCode is randomized per process, so never use it for seeds).</summary>
public static class Seeds
{
    /// <summary>FNV-1a 64-bit hash of the parts, folded to a non-negative int seed.</summary>
    public static int Derive(int seed, params object[] parts)
    {
        ulong h = 14695981039346656037UL;
        void Mix(string s)
        {
            foreach (char c in s) { h ^= c; h *= 1099511628211UL; }
            h ^= 0xff; h *= 1099511628211UL;
        }
        Mix(seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var p in parts) Mix(System.Convert.ToString(p, System.Globalization.CultureInfo.InvariantCulture) ?? "");
        return (int)((h ^ (h >> 32)) & 0x7fffffff);
    }
}
