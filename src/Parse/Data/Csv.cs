using System.Text;
using Parse.Config;

namespace Parse.Data;

/// <summary>A CSV file read into memory: header names and data rows (as strings).</summary>
/// <param name="Path">Full path, used in messages.</param>
/// <param name="Header">Column names.</param>
/// <param name="Rows">Data rows; each has exactly <c>Header.Length</c> cells.</param>
/// <param name="Lines">1-based line number of each data row in the file (header is line 1).</param>
public sealed record CsvTable(string Path, string[] Header, List<string[]> Rows, List<int> Lines)
{
    /// <summary>Index of column <paramref name="name"/>, or -1.</summary>
    public int IndexOf(string name) => Array.IndexOf(Header, name);

    /// <summary>Reads a comma-separated file with a header row (RFC 4180 quoting: "a,b" and "" for a quote).</summary>
    public static CsvTable Read(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full)) throw new ConfigException($"CSV file not found: {full}");
        using var r = new StreamReader(full, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return Read(r, full);
    }

    /// <summary>Reads CSV text from <paramref name="r"/>; <paramref name="full"/> names it in messages (and becomes <see cref="Path"/>).</summary>
    public static CsvTable Read(TextReader r, string full)
    {
        var rows = new List<string[]>();
        var lines = new List<int>();
        string[]? header = null;
        int lineNo = 0;
        while (ReadRecord(r, ref lineNo, full) is { } rec)
        {
            int startLine = rec.Line;
            var cells = rec.Cells;
            if (cells.Count == 1 && cells[0].Trim().Length == 0) continue;   // blank line
            if (header is null)
            {
                header = cells.Select(c => c.Trim()).ToArray();
                var dup = header.GroupBy(h => h).FirstOrDefault(g => g.Count() > 1);
                if (dup is not null) throw new ConfigException($"{full}: duplicate column '{dup.Key}' in the header");
                continue;
            }
            if (cells.Count != header.Length)
                throw new ConfigException($"{full}: row {rows.Count + 1} (line {startLine}) has {cells.Count} fields but the header has {header.Length}");
            rows.Add(cells.ToArray());
            lines.Add(startLine);
        }
        if (header is null) throw new ConfigException($"{full}: empty CSV file (a header row is required)");
        return new CsvTable(full, header, rows, lines);
    }

    private static (List<string> Cells, int Line)? ReadRecord(TextReader r, ref int lineNo, string path)
    {
        if (r.Peek() < 0) return null;
        lineNo++;
        int start = lineNo;
        var cells = new List<string>();
        var cur = new StringBuilder();
        bool quoted = false;
        while (true)
        {
            int ch = r.Read();
            if (ch < 0)
            {
                if (quoted) throw new ConfigException($"{path}: unterminated quoted field starting on line {start}");
                cells.Add(cur.ToString());
                return (cells, start);
            }
            char c = (char)ch;
            if (quoted)
            {
                if (c == '"')
                {
                    if (r.Peek() == '"') { r.Read(); cur.Append('"'); }
                    else quoted = false;
                }
                else
                {
                    if (c == '\n') lineNo++;
                    cur.Append(c);
                }
                continue;
            }
            switch (c)
            {
                case '"' when cur.Length == 0: quoted = true; break;
                case ',': cells.Add(cur.ToString()); cur.Clear(); break;
                case '\r': break;
                case '\n': cells.Add(cur.ToString()); return (cells, start);
                default: cur.Append(c); break;
            }
        }
    }
}
