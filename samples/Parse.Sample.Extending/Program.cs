namespace Parse.Sample.Extending;

/// <summary>
/// <c>dotnet run --project samples/Parse.Sample.Extending [-- [--out DIR] [key=value ...]]</c>, e.g.
/// <c>-- rounds=4</c>. Overrides use the config's dotted keys, as <c>parse run --set</c>.
/// </summary>
public static class Program
{
    /// <summary>Entry point; returns 0 on success, 2 on a configuration error.</summary>
    public static int Main(string[] args)
    {
        string? outDir = null;
        var overrides = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--out" && i + 1 < args.Length) outDir = args[++i];
            else overrides.Add(args[i]);
        }
        try
        {
            ExtendingSample.Run(Console.Out, overrides, outDir);
            return 0;
        }
        catch (Config.ConfigException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
