using System.Security.Cryptography;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Cluster.Checkpoints;

/// <summary>
/// A checkpoint read back from disk: the round it was taken after, the tensors by name, opaque metadata, the fingerprint
/// of the config it was trained under (<see cref="Parse.Config.ConfigFingerprint"/>) and named binary state (optimizer,
/// batch sampler).
/// </summary>
public sealed record Checkpoint(int Agent, int Round, IReadOnlyDictionary<string, (long[] Shape, float[] Values)> Tensors, string Metadata)
{
    /// <summary>Fingerprint of the resolved config the checkpoint was written under ("" if unknown).</summary>
    public string Fingerprint { get; init; } = "";
    /// <summary>Named opaque state beside the tensors (e.g. "optimizer", "sampler").</summary>
    public IReadOnlyDictionary<string, byte[]> Blobs { get; init; } = new Dictionary<string, byte[]>();
}

/// <summary>
/// Per-agent checkpoints in one directory, written atomically: the file is written to a temporary name,
/// flushed to disk, then renamed, so a crash leaves either the old or the new file, never a torn one. Each file
/// ends with a SHA-256 of everything before it; a file whose checksum, magic or framing does not match is
/// never loaded (the next older good one is used). The two newest checkpoints per agent are kept. After the rename the
/// directory itself is flushed (so the new name survives a power loss), and <see cref="RemoveStaleTemporaries"/> clears
/// the temporary files of writers that were killed mid-write.
/// <para>Format (version 2): <c>"PRSC" | version u8 | agent i32 | round i32 | metadata (i32 length + UTF-8) |
/// fingerprint (i32 length + UTF-8) | blob count i32 | per blob: name (string), i32 length, bytes | tensor count i32 |
/// per tensor: name (i32 length + UTF-8), rank i32, dims i64 x rank, float32 values | SHA-256 (32 bytes)</c>.
/// Version 1 files (no fingerprint, no blobs) are still read.</para>
/// </summary>
public sealed class CheckpointStore(string directory, int keep = 2)
{
    private const byte Version = 2;
    private static readonly byte[] Magic = "PRSC"u8.ToArray();

    /// <summary>Directory holding the checkpoint files.</summary>
    public string Directory { get; } = directory;

    /// <summary>Corrupt files found by the last <see cref="TryLoadLatest"/> (path and reason).</summary>
    public List<string> Corrupt { get; } = new();

    private string PathFor(int agent, int round) => Path.Combine(Directory, $"agent-{agent}-r{round:D6}.ckpt");

    /// <summary>Saves the module's state (parameters and buffers) after <paramref name="round"/>; returns the file path.</summary>
    public string Save(int agent, int round, nn.Module module, string metadata) => Save(agent, round, module.state_dict(), metadata);

    /// <summary>
    /// Saves named tensors (e.g. one agent's slice of a stacked model, <c>AgentModelView.State()</c>) after
    /// <paramref name="round"/>; returns the file path.
    /// </summary>
    public string Save(int agent, int round, IReadOnlyDictionary<string, Tensor> state, string metadata) => Save(agent, round, state, metadata, "", null);

    /// <summary>
    /// Saves named tensors with the config <paramref name="fingerprint"/> and named binary state
    /// (<paramref name="blobs"/>, e.g. optimizer moments) after <paramref name="round"/>; returns the file path.
    /// </summary>
    public string Save(int agent, int round, IReadOnlyDictionary<string, Tensor> state, string metadata, string fingerprint, IReadOnlyDictionary<string, byte[]>? blobs)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(agent);
            w.Write(round);
            WriteString(w, metadata);
            WriteString(w, fingerprint);
            blobs ??= new Dictionary<string, byte[]>();
            w.Write(blobs.Count);
            foreach (var (name, b) in blobs.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                WriteString(w, name);
                w.Write(b.Length);
                w.Write(b);
            }
            w.Write(state.Count);
            foreach (var (name, t) in state.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                using var scope = torch.NewDisposeScope();
                WriteString(w, name);
                w.Write((int)t.dim());
                foreach (long d in t.shape) w.Write(d);
                foreach (float f in t.detach().to_type(ScalarType.Float32).contiguous().cpu().data<float>()) w.Write(f);
            }
        }
        ms.Write(SHA256.HashData(ms.GetBuffer().AsSpan(0, (int)ms.Length)));
        string final = PathFor(agent, round);
        string tmp = final + $".tmp-{Environment.ProcessId}";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            ms.Position = 0;
            ms.CopyTo(f);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, final, overwrite: true);
        DirectorySync.Flush(Directory);
        foreach (var old in Files(agent).Skip(keep)) File.Delete(old.Path);
        return final;
    }

    /// <summary>
    /// Deletes temporary files (<c>*.ckpt.tmp-PID</c>) of <paramref name="agent"/> left by a writer that was killed
    /// mid-write; returns their paths. Call before the agent runs: an agent is hosted by one process at a time, so any
    /// temporary file of it is from a dead writer.
    /// </summary>
    public IReadOnlyList<string> RemoveStaleTemporaries(int agent)
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        var removed = new List<string>();
        foreach (var f in System.IO.Directory.EnumerateFiles(Directory, $"agent-{agent}-r*.ckpt.tmp-*"))
        {
            try { File.Delete(f); removed.Add(f); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    /// <summary>Checkpoint files of an agent, newest round first.</summary>
    public IReadOnlyList<(int Round, string Path)> Files(int agent)
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        string prefix = $"agent-{agent}-r";
        return System.IO.Directory.EnumerateFiles(Directory, $"agent-{agent}-r*.ckpt")
            .Select(p => (Name: Path.GetFileNameWithoutExtension(p), Path: p))
            .Where(x => x.Name.StartsWith(prefix, StringComparison.Ordinal) && int.TryParse(x.Name[prefix.Length..], out _))
            .Select(x => (int.Parse(x.Name[prefix.Length..]), x.Path))
            .OrderByDescending(x => x.Item1).ToList();
    }

    /// <summary>The newest checkpoint of <paramref name="agent"/> that verifies, or null; corrupt files are listed in <see cref="Corrupt"/>.</summary>
    public Checkpoint? TryLoadLatest(int agent)
    {
        Corrupt.Clear();
        foreach (var (_, path) in Files(agent))
        {
            var c = TryRead(path, out string why);
            if (c is not null && c.Agent == agent) return c;
            Corrupt.Add($"{path}: {(c is null ? why : $"holds agent {c.Agent}")}");
        }
        return null;
    }

    /// <summary>Reads and verifies one file; null (with a reason) if it is corrupt.</summary>
    public static Checkpoint? TryRead(string path, out string reason)
    {
        reason = "";
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (IOException e) { reason = e.Message; return null; }
        if (bytes.Length < Magic.Length + 1 + 32) { reason = "truncated"; return null; }
        var body = bytes.AsSpan(0, bytes.Length - 32);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32))) { reason = "checksum mismatch"; return null; }
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes, 0, body.Length), Encoding.UTF8);
            if (!r.ReadBytes(4).AsSpan().SequenceEqual(Magic)) { reason = "not a PARSE checkpoint (magic)"; return null; }
            byte version = r.ReadByte();
            if (version is < 1 or > Version) { reason = $"checkpoint format version {version} (this build reads 1..{Version})"; return null; }
            int agent = r.ReadInt32(), round = r.ReadInt32();
            string meta = ReadString(r);
            string fingerprint = "";
            var blobs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            if (version >= 2)
            {
                fingerprint = ReadString(r);
                int nb = r.ReadInt32();
                if (nb is < 0 or > 1024) { reason = $"bad blob count {nb}"; return null; }
                for (int i = 0; i < nb; i++)
                {
                    string name = ReadString(r);
                    int len = r.ReadInt32();
                    if (len < 0 || len > r.BaseStream.Length - r.BaseStream.Position) { reason = $"blob '{name}': bad length"; return null; }
                    blobs[name] = r.ReadBytes(len);
                }
            }
            int n = r.ReadInt32();
            var tensors = new Dictionary<string, (long[], float[])>(StringComparer.Ordinal);
            for (int i = 0; i < n; i++)
            {
                string name = ReadString(r);
                int rank = r.ReadInt32();
                if (rank is < 0 or > 8) { reason = $"tensor '{name}': bad rank {rank}"; return null; }
                var shape = new long[rank];
                for (int d = 0; d < rank; d++) shape[d] = r.ReadInt64();
                long numel = shape.Aggregate(1L, (a, b) => a * b);
                if (numel < 0 || numel * 4 > body.Length) { reason = $"tensor '{name}': bad shape"; return null; }
                var vals = new float[numel];
                for (long e = 0; e < numel; e++) vals[e] = r.ReadSingle();
                tensors[name] = (shape, vals);
            }
            return new Checkpoint(agent, round, tensors, meta) { Fingerprint = fingerprint, Blobs = blobs };
        }
        catch (EndOfStreamException) { reason = "truncated body"; return null; }
    }

    /// <summary>Copies a checkpoint into a module; throws <see cref="InvalidDataException"/> naming the first mismatching tensor.</summary>
    public static void Restore(Checkpoint c, nn.Module module) => Restore(c, module.state_dict());

    /// <summary>
    /// Copies a checkpoint into named tensors in place (e.g. views of one agent's slice of a stacked model); throws
    /// <see cref="InvalidDataException"/> naming the first mismatching tensor.
    /// </summary>
    public static void Restore(Checkpoint c, IReadOnlyDictionary<string, Tensor> state)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var (name, t) in state)
        {
            if (!c.Tensors.TryGetValue(name, out var saved)) throw new InvalidDataException($"checkpoint of agent {c.Agent}: tensor '{name}' missing");
            if (!saved.Shape.SequenceEqual(t.shape)) throw new InvalidDataException($"checkpoint of agent {c.Agent}: tensor '{name}' has shape [{string.Join(',', saved.Shape)}], model has [{string.Join(',', t.shape)}]");
            t.copy_(torch.tensor(saved.Values, saved.Shape).to_type(t.dtype));
        }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        w.Write(b.Length);
        w.Write(b);
    }

    private static string ReadString(BinaryReader r)
    {
        int n = r.ReadInt32();
        if (n < 0 || n > r.BaseStream.Length - r.BaseStream.Position) throw new EndOfStreamException();
        return Encoding.UTF8.GetString(r.ReadBytes(n));
    }
}
