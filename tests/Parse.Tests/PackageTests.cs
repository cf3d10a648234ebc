using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Parse.Build;

namespace Parse.Tests;

/// <summary>
/// `dotnet pack` gives the `parse` command as a .NET tool (installed from the local packages into a temporary tool path,
/// then run: the quickstart for 2 rounds, with TorchSharp's native library loading) and the library as a NuGet package
/// with its XML documentation and metadata. Everything is built under a temporary artifacts path and installed with a
/// temporary NuGet package folder: the repository's bin/obj and the user's NuGet cache are left as they are.
/// </summary>
[Collection("cli")]
public class PackageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-pack").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static (int Code, string Out) Dotnet(string workDir, IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var (code, stdout, stderr) = HeadlessChromium.Run("dotnet", args, TimeSpan.FromMinutes(20), workDir, env);
        return (code, stdout + stderr);
    }

    [SkippableFact]
    public void The_packed_tool_installs_into_a_tool_path_and_runs_the_quickstart_for_two_rounds()
    {
        string? root = HeadlessChromium.RepoRoot();
        Skip.If(root is null, "the repository (Parse.slnx) was not found above the test binaries");
        string rid = RuntimeInformation.RuntimeIdentifier;
        string artifacts = Path.Combine(_dir, "artifacts"), packages = Path.Combine(_dir, "nupkgs");
        // hard links instead of copies of TorchSharp's ~0.5 GB of native libraries in bin/ and publish/ (the one file the
        // build patches is replaced by rename, never written through a link)
        string[] links = ["-p:CreateHardLinksForCopyLocalIfPossible=true", "-p:CreateHardLinksForCopyFilesToOutputDirectoryIfPossible=true",
            "-p:CreateHardLinksForPublishFilesIfPossible=true", "-p:CreateHardLinksForAdditionalFilesIfPossible=true"];
        var (code, output) = Dotnet(root!, null, ["pack", "src/Parse.Cli/Parse.Cli.csproj", "-c", "Release", "-nologo",
            "--artifacts-path", artifacts, "-o", packages, $"-p:ToolPackageRuntimeIdentifiers={rid}", .. links]);
        Assert.True(code == 0, "dotnet pack failed:\n" + output);
        // the library package (its build is already there)
        (code, output) = Dotnet(root!, null, ["pack", "src/Parse/Parse.csproj", "-c", "Release", "-nologo", "--artifacts-path", artifacts, "-o", packages, .. links]);
        Assert.True(code == 0, "dotnet pack (library) failed:\n" + output);
        Directory.Delete(artifacts, true);   // only the packages are needed from here on
        string pointer = Assert.Single(Directory.GetFiles(packages, "Parse.Dfl.Tool.0*.nupkg"));
        string platform = Assert.Single(Directory.GetFiles(packages, $"Parse.Dfl.Tool.{rid}.*.nupkg"));

        // the package carries the patched native bridge (GLIBCXX_3.4.32 weak), the licences and the metadata
        using (var zip = ZipFile.OpenRead(platform))
        {
            var lts = zip.Entries.Where(e => e.Name == "libLibTorchSharp.so").ToList();
            if (rid.StartsWith("linux", StringComparison.Ordinal))
            {
                Assert.NotEmpty(lts);
                foreach (var e in lts)
                {
                    using var s = e.Open();
                    using var ms = new MemoryStream();
                    s.CopyTo(ms);
                    Assert.Equal(0, ElfVersionNeedPatcher.MarkWeak(ms.ToArray(), "GLIBCXX_3.4.32"));   // nothing left to mark
                }
            }
            Assert.Contains(zip.Entries, e => e.FullName == "LICENSE");
        }
        using (var zip = ZipFile.OpenRead(pointer))
        {
            var nuspec = Nuspec(zip);
            Assert.Equal("MIT", Meta(nuspec, "license"));
            Assert.Equal("README.md", Meta(nuspec, "readme"));
            Assert.Contains(zip.Entries, e => e.FullName == "DATA-LICENSES.md");
        }

        // install from the local packages only, with a throw-away NuGet package folder
        string config = Path.Combine(_dir, "nuget.config");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources><clear /><add key="local" value="{packages}" /></packageSources>
            </configuration>
            """);
        var env = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(_dir, "nuget-cache"), ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" };
        string tools = Path.Combine(_dir, "tools");
        (code, output) = Dotnet(_dir, env, "tool", "install", "--tool-path", tools, "--configfile", config, "Parse.Dfl.Tool");
        Assert.True(code == 0, "dotnet tool install failed:\n" + output);
        string parse = Path.Combine(tools, OperatingSystem.IsWindows() ? "parse.exe" : "parse");
        Assert.True(File.Exists(parse), output);

        var (helpCode, help, helpErr) = HeadlessChromium.Run(parse, ["--help"], TimeSpan.FromMinutes(2), _dir);
        Assert.True(helpCode == 0, helpErr);
        Assert.Contains("Usage:\n  parse [command] [options]", help.Replace("\r\n", "\n"));
        Assert.DoesNotContain("Parse.Cli", help);

        // the quickstart (embedded), 2 rounds: trains with TorchSharp, so the native library really loads
        string run = Path.Combine(_dir, "quickstart");
        var (runCode, runOut, runErr) = HeadlessChromium.Run(parse, ["run", "--set", "rounds=2", "--out", run, "--quiet"], TimeSpan.FromMinutes(10), _dir);
        Assert.True(runCode == 0, $"parse run exited with {runCode}:\n{runOut}\n{runErr}");
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!;
        Assert.Equal(2, summary["rounds"]!.GetValue<int>());
        Assert.InRange(summary["accuracy"]!["overall"]!.GetValue<double>(), 0.0, 1.0);
        Assert.True(File.Exists(Path.Combine(run, "report.html")));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(run, "tensorboard"), "events.out.tfevents.*"));

        // the library package: XML documentation of the public API, metadata, licences
        using (var zip = ZipFile.OpenRead(Assert.Single(Directory.GetFiles(packages, "Parse.Dfl.0*.nupkg"))))
        {
            var xml = zip.Entries.Single(e => e.FullName == "lib/net10.0/Parse.xml");
            using var reader = new StreamReader(xml.Open());
            string docs = reader.ReadToEnd();
            Assert.Contains("T:Parse.Components", docs);   // the registration points are documented
            Assert.Contains(zip.Entries, e => e.FullName == "lib/net10.0/Parse.dll");
            Assert.Contains(zip.Entries, e => e.FullName == "LICENSE");
            Assert.Contains(zip.Entries, e => e.FullName == "DATA-LICENSES.md");
            var nuspec = Nuspec(zip);
            Assert.Equal("MIT", Meta(nuspec, "license"));
            Assert.False(string.IsNullOrWhiteSpace(Meta(nuspec, "description")));
            Assert.False(string.IsNullOrWhiteSpace(Meta(nuspec, "authors")));
            Assert.Contains(nuspec.Descendants(), e => e.Name.LocalName == "dependency" && (string?)e.Attribute("id") == "TorchSharp-cpu");
        }
    }

    private static XDocument Nuspec(ZipArchive zip)
    {
        using var s = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        return XDocument.Load(s);
    }

    private static string? Meta(XDocument nuspec, string name) =>
        nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value;
}
