namespace Parse.Tests;

/// <summary>The <c>./parse</c> wrapper rebuilds for source changes only (run in a scratch copy of the layout, check mode).</summary>
public class WrapperTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-wrapper").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Touch(string relative, DateTime when)
    {
        string path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path)) File.WriteAllText(path, "x");
        File.SetLastWriteTimeUtc(path, when);
        return path;
    }

    private string NeedsBuild()
    {
        var (code, stdout, stderr) = HeadlessChromium.Run("bash", [Path.Combine(_dir, "parse")], TimeSpan.FromMinutes(1),
            env: new Dictionary<string, string> { ["PARSE_WRAPPER_CHECK"] = "1" });
        Assert.True(code == 0, stderr);
        return stdout.Trim();
    }

    [SkippableFact]
    public void Only_sources_and_the_embedded_quickstart_trigger_a_rebuild_not_other_configs()
    {
        Skip.If(OperatingSystem.IsWindows(), "the wrapper is a bash script");
        string? root = HeadlessChromium.RepoRoot();
        Skip.If(root is null, "the repository was not found above the test binaries");
        File.Copy(Path.Combine(root!, "parse"), Path.Combine(_dir, "parse"));
        var old = DateTime.UtcNow.AddHours(-2);
        foreach (var f in new[] { "src/Parse/A.cs", "src/Parse.Cli/Parse.Cli.csproj", "configs/quickstart.yaml", "configs/other.yaml", "build/x.cs",
                     "Directory.Build.props", "Directory.Build.targets", "src/Parse.Cli/bin/Release/net10.0/Parse.Cli.dll" })
            Touch(f, old);
        Assert.Equal("1", NeedsBuild());   // never built (no stamp)
        Touch("src/Parse.Cli/bin/Release/.parse-build-stamp", DateTime.UtcNow.AddHours(-1));
        Assert.Equal("0", NeedsBuild());
        Touch("configs/other.yaml", DateTime.UtcNow);
        Assert.Equal("0", NeedsBuild());   // a config edit: no rebuild
        Touch("src/Parse/obj/Debug/gen.cs", DateTime.UtcNow);
        Assert.Equal("0", NeedsBuild());   // build products are ignored
        Touch("configs/quickstart.yaml", DateTime.UtcNow);
        Assert.Equal("1", NeedsBuild());   // embedded in the CLI
        Touch("configs/quickstart.yaml", old);
        Touch("src/Parse/A.cs", DateTime.UtcNow);
        Assert.Equal("1", NeedsBuild());
    }
}
