using System.Text;
using Parse.Build;

namespace Parse.Tests;

public class BuildPatchTests
{
    /// <summary>A minimal ELF64 image: .dynstr and a .gnu.version_r needing two libstdc++ versions.</summary>
    private static byte[] MiniElf(out int aux1Flags, out int aux2Flags)
    {
        var str = Encoding.ASCII.GetBytes("\0libstdc++.so.6\0GLIBCXX_3.4.32\0GLIBCXX_3.4.30\0");
        int strOff = 0x40, vnOff = 0x80, shOff = 0xC0;
        var elf = new byte[shOff + 3 * 64];
        elf[0] = 0x7f; elf[1] = (byte)'E'; elf[2] = (byte)'L'; elf[3] = (byte)'F'; elf[4] = 2; elf[5] = 1; elf[6] = 1;
        void U16(int o, int v) => BitConverter.GetBytes((ushort)v).CopyTo(elf, o);
        void U32(int o, long v) => BitConverter.GetBytes((uint)v).CopyTo(elf, o);
        void U64(int o, long v) => BitConverter.GetBytes((ulong)v).CopyTo(elf, o);
        U64(0x28, shOff); U16(0x3A, 64); U16(0x3C, 3);
        str.CopyTo(elf, strOff);
        // Verneed: version, cnt, file, aux, next
        U16(vnOff, 1); U16(vnOff + 2, 2); U32(vnOff + 4, 1); U32(vnOff + 8, 16); U32(vnOff + 12, 0);
        // Vernaux 1 (GLIBCXX_3.4.32 at str offset 16) and 2 (GLIBCXX_3.4.30 at 31)
        aux1Flags = vnOff + 16 + 4; aux2Flags = vnOff + 32 + 4;
        U32(vnOff + 16 + 8, 16); U32(vnOff + 16 + 12, 16);
        U32(vnOff + 32 + 8, 31); U32(vnOff + 32 + 12, 0);
        // section 1: .dynstr, section 2: .gnu.version_r (link 1, info 1 entry)
        int s1 = shOff + 64, s2 = shOff + 128;
        U32(s1 + 4, 3); U64(s1 + 0x18, strOff); U64(s1 + 0x20, str.Length);
        U32(s2 + 4, 0x6ffffffe); U64(s2 + 0x18, vnOff); U64(s2 + 0x20, 48); U32(s2 + 0x28, 1); U32(s2 + 0x2C, 1);
        return elf;
    }

    [Fact]
    public void Marks_only_the_named_version_weak_and_is_idempotent()
    {
        var elf = MiniElf(out int f1, out int f2);
        var before = (byte[])elf.Clone();
        Assert.Equal(1, ElfVersionNeedPatcher.MarkWeak(elf, "GLIBCXX_3.4.32"));
        Assert.Equal(2, BitConverter.ToUInt16(elf, f1));
        Assert.Equal(0, BitConverter.ToUInt16(elf, f2));
        Assert.Equal(1, before.Zip(elf).Count(p => p.First != p.Second));   // exactly one byte changed
        Assert.Equal(0, ElfVersionNeedPatcher.MarkWeak(elf, "GLIBCXX_3.4.32"));
        Assert.Throws<InvalidDataException>(() => ElfVersionNeedPatcher.MarkWeak(new byte[100], "x"));
    }

    [Fact]
    public void Build_output_copy_is_patched_exactly_when_the_system_lacks_the_version()
    {
        string lib = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(lib), $"expected TorchSharp's native bridge at {lib}");
        var bytes = File.ReadAllBytes(lib);
        int stillStrong = ElfVersionNeedPatcher.MarkWeak(bytes, "GLIBCXX_3.4.32");
        if (ElfVersionNeedPatcher.SystemLibStdCxxHas("GLIBCXX_3.4.32")) Assert.Equal(1, stillStrong);
        else Assert.Equal(0, stillStrong);
    }
}
