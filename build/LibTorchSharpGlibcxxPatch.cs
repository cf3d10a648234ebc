// Inline MSBuild task (RoslynCodeTaskFactory) that makes TorchSharp's native bridge load on systems whose
// libstdc++ predates GLIBCXX_3.4.32 (e.g. Debian 12). libLibTorchSharp.so lists that version for a single
// symbol it never calls; marking the version-needed entry weak (VER_FLG_WEAK) lets the dynamic loader accept
// a libstdc++ without it. Only the copy in the build output is changed, never the NuGet cache, and only when
// the system libstdc++ lacks the version. The same source is compiled into the tests.
using System;
using System.IO;
using System.Text;

namespace Parse.Build
{
    /// <summary>ELF64 helpers to mark one GNU version-needed entry weak.</summary>
    public static class ElfVersionNeedPatcher
    {
        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const ushort VerFlgWeak = 0x2;

        /// <summary>
        /// Sets VER_FLG_WEAK on every vernaux entry named <paramref name="versionName"/>.
        /// Returns the number of entries changed (0 if already weak or absent).
        /// Throws <see cref="InvalidDataException"/> if the bytes are not a little-endian ELF64 image.
        /// </summary>
        public static int MarkWeak(byte[] elf, string versionName)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("only little-endian ELF64 is supported");
            ulong shoff = BitConverter.ToUInt64(elf, 0x28);
            int shentsize = BitConverter.ToUInt16(elf, 0x3A);
            int shnum = BitConverter.ToUInt16(elf, 0x3C);
            int changed = 0;
            for (int i = 0; i < shnum; i++)
            {
                long sh = checked((long)shoff + (long)i * shentsize);
                if (sh + 64 > elf.Length) throw new InvalidDataException("section header out of range");
                uint type = BitConverter.ToUInt32(elf, (int)sh + 4);
                if (type != ShtGnuVerneed) continue;
                long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
                uint link = BitConverter.ToUInt32(elf, (int)sh + 0x28);
                uint count = BitConverter.ToUInt32(elf, (int)sh + 0x2C);
                long strSh = checked((long)shoff + (long)link * shentsize);
                long strOff = (long)BitConverter.ToUInt64(elf, (int)strSh + 0x18);
                long vn = offset;
                for (uint n = 0; n < count; n++)
                {
                    int cnt = BitConverter.ToUInt16(elf, (int)vn + 2);
                    uint aux = BitConverter.ToUInt32(elf, (int)vn + 8);
                    uint next = BitConverter.ToUInt32(elf, (int)vn + 12);
                    long va = vn + aux;
                    for (int a = 0; a < cnt; a++)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, (int)va + 4);
                        uint name = BitConverter.ToUInt32(elf, (int)va + 8);
                        uint vnext = BitConverter.ToUInt32(elf, (int)va + 12);
                        if (ReadCString(elf, strOff + name) == versionName && (flags & VerFlgWeak) == 0)
                        {
                            byte[] f = BitConverter.GetBytes((ushort)(flags | VerFlgWeak));
                            elf[va + 4] = f[0];
                            elf[va + 5] = f[1];
                            changed++;
                        }
                        if (vnext == 0) break;
                        va += vnext;
                    }
                    if (next == 0) break;
                    vn += next;
                }
            }
            return changed;
        }

        private static string ReadCString(byte[] data, long start)
        {
            long end = start;
            while (end < data.Length && data[end] != 0) end++;
            return Encoding.ASCII.GetString(data, (int)start, (int)(end - start));
        }

        /// <summary>True if any system libstdc++ found in the usual places provides <paramref name="versionName"/>.</summary>
        public static bool SystemLibStdCxxHas(string versionName)
        {
            string[] candidates =
            {
                "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
                "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            };
            byte[] needle = Encoding.ASCII.GetBytes(versionName + "\0");
            foreach (string path in candidates)
            {
                if (!File.Exists(path)) continue;
                byte[] lib = File.ReadAllBytes(path);
                if (IndexOf(lib, needle) >= 0) return true;
            }
            return false;
        }

        private static int IndexOf(byte[] hay, byte[] needle)
        {
            for (int i = 0; i <= hay.Length - needle.Length; i++)
            {
                int j = 0;
                while (j < needle.Length && hay[i + j] == needle[j]) j++;
                if (j == needle.Length) return i;
            }
            return -1;
        }

        /// <summary>Patches <paramref name="path"/> in place via a temp file and rename; returns entries changed.</summary>
        public static int PatchFile(string path, string versionName)
        {
            byte[] bytes = File.ReadAllBytes(path);
            int changed = MarkWeak(bytes, versionName);
            if (changed == 0) return 0;
            string tmp = path + ".patch-tmp";
            File.WriteAllBytes(tmp, bytes);
            File.Replace(tmp, path, null); // atomic rename over the file (also breaks any hard link to a package cache)
            return changed;
        }
    }

#if !PARSE_TESTS
    /// <summary>MSBuild task: patch every libLibTorchSharp.so below <see cref="Directory"/> if the system needs it.</summary>
    public class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
    {
        /// <summary>Build output directory to scan.</summary>
        [Microsoft.Build.Framework.Required]
        public string Directory { get; set; } = "";

        /// <summary>Patch whatever the build machine's libstdc++ (set for files that ship in a package and run elsewhere).</summary>
        public bool Always { get; set; }

        /// <inheritdoc />
        public override bool Execute()
        {
            const string version = "GLIBCXX_3.4.32";
            if (!System.IO.Directory.Exists(Directory)) return true;
            if (!Always && !System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux)) return true;
            string[] files = System.IO.Directory.GetFiles(Directory, "libLibTorchSharp.so", SearchOption.AllDirectories);
            if (files.Length == 0) return true;
            if (!Always && ElfVersionNeedPatcher.SystemLibStdCxxHas(version))
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "system libstdc++ provides " + version + "; TorchSharp left as shipped");
                return true;
            }
            foreach (string f in files)
            {
                int n = ElfVersionNeedPatcher.PatchFile(f, version);
                if (n > 0)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, "parse: marked " + version + " weak in " + f + (Always ? "" : " (system libstdc++ lacks it)"));
            }
            return true;
        }
    }
#endif
}
