using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Parse.Reporting;

/// <summary>
/// A self-contained HTML page from the Markdown the run and bench reports are written in (<c>report.md</c>,
/// <c>results.md</c>): headings, paragraphs, lists, pipe tables (with <c>\|</c> inside cells), code spans, bold, links
/// and images. Images that are files beside the report are embedded as <c>data:</c> URIs, so the page needs nothing
/// else: no scripts, no style sheets, no fonts, nothing fetched. Tables carry <c>data-section</c>, the id of the
/// heading above them (e.g. <c>final-test-accuracy-per-agent-type</c>), so tools can find them.
/// </summary>
public static partial class HtmlReport
{
    private const string Style =
        "body{font-family:sans-serif;max-width:1250px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}" +
        "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:.25em .6em}th{background:#eee}" +
        "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}code{background:#f3f3f3;padding:0 .2em}" +
        "img{max-width:100%;display:block;margin:1em 0}";

    /// <summary>Converts <paramref name="markdown"/> to HTML; images named relative to <paramref name="baseDir"/> are embedded.</summary>
    /// <param name="markdown">The report's Markdown text.</param>
    /// <param name="title">Page title.</param>
    /// <param name="baseDir">Directory the report's relative image paths refer to.</param>
    public static string FromMarkdown(string markdown, string title, string baseDir)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            // nothing may be fetched: images are data: URIs, the style is inline
            .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n")
            .Append("<title>").Append(Esc(title)).Append("</title>\n<style>").Append(Style).Append("</style>\n</head>\n<body>\n");
        var lines = markdown.Replace("\r\n", "\n").Split('\n');
        string section = "";
        var paragraph = new List<string>();
        void Flush()
        {
            if (paragraph.Count == 0) return;
            html.Append("<p>").Append(Inline(string.Join(" ", paragraph), baseDir)).Append("</p>\n");
            paragraph.Clear();
        }
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd();
            if (line.Length == 0) { Flush(); continue; }
            if (HeadingRegex().Match(line) is { Success: true } h)
            {
                Flush();
                int level = h.Groups[1].Length;
                section = Slug(h.Groups[2].Value);
                html.Append(System.Globalization.CultureInfo.InvariantCulture, $"<h{level} id=\"{section}\">")
                    .Append(Inline(h.Groups[2].Value, baseDir)).Append(System.Globalization.CultureInfo.InvariantCulture, $"</h{level}>\n");
                continue;
            }
            if (line.StartsWith('|') && i + 1 < lines.Length && SeparatorRegex().IsMatch(lines[i + 1].Trim()))
            {
                Flush();
                var header = Cells(line);
                var align = Cells(lines[i + 1].Trim()).Select(c => c.EndsWith(':')).ToList();
                html.Append("<table data-section=\"").Append(section).Append("\">\n<thead><tr>");
                for (int c = 0; c < header.Count; c++)
                    html.Append(c < align.Count && align[c] ? "<th class=\"num\">" : "<th>").Append(Inline(header[c], baseDir)).Append("</th>");
                html.Append("</tr></thead>\n<tbody>\n");
                i += 2;
                for (; i < lines.Length && lines[i].TrimStart().StartsWith('|'); i++)
                {
                    var cells = Cells(lines[i].Trim());
                    html.Append("<tr>");
                    for (int c = 0; c < cells.Count; c++)
                        html.Append(c < align.Count && align[c] ? "<td class=\"num\">" : "<td>").Append(Inline(cells[c], baseDir)).Append("</td>");
                    html.Append("</tr>\n");
                }
                i--;
                html.Append("</tbody>\n</table>\n");
                continue;
            }
            if (line.StartsWith("- ", StringComparison.Ordinal) || line.StartsWith("* ", StringComparison.Ordinal))
            {
                Flush();
                html.Append("<ul>\n");
                for (; i < lines.Length && (lines[i].StartsWith("- ", StringComparison.Ordinal) || lines[i].StartsWith("* ", StringComparison.Ordinal)); i++)
                    html.Append("<li>").Append(Inline(lines[i][2..].Trim(), baseDir)).Append("</li>\n");
                i--;
                html.Append("</ul>\n");
                continue;
            }
            paragraph.Add(line);
        }
        Flush();
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    /// <summary>Writes <paramref name="htmlPath"/> (atomically) from the Markdown file <paramref name="markdownPath"/>; images are looked up beside it.</summary>
    public static void Write(string markdownPath, string htmlPath, string title) =>
        AtomicFile.WriteAllText(htmlPath, FromMarkdown(File.ReadAllText(markdownPath), title, Path.GetDirectoryName(Path.GetFullPath(markdownPath))!));

    /// <summary>The cells of a pipe-table row; <c>\|</c> stays inside its cell (as a literal '|').</summary>
    public static List<string> Cells(string row)
    {
        var cells = new List<string>();
        var cur = new StringBuilder();
        string s = row.Trim();
        int start = s.StartsWith('|') ? 1 : 0;
        for (int i = start; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 1 < s.Length && s[i + 1] == '|') { cur.Append('|'); i++; }
            else if (s[i] == '|') { cells.Add(cur.ToString().Trim()); cur.Clear(); }
            else cur.Append(s[i]);
        }
        if (cur.ToString().Trim().Length > 0) cells.Add(cur.ToString().Trim());
        return cells;
    }

    /// <summary>Heading text as an id: lower case, letters and digits, '-' between words.</summary>
    public static string Slug(string text)
    {
        var sb = new StringBuilder();
        foreach (char ch in text.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(ch)) sb.Append(ch);
            else if (sb.Length > 0 && sb[^1] != '-') sb.Append('-');
        }
        return sb.ToString().Trim('-');
    }

    private static string Inline(string text, string baseDir)
    {
        // code spans first (their content is literal), then images, links and bold in the rest
        var sb = new StringBuilder();
        var parts = text.Split('`');
        for (int p = 0; p < parts.Length; p++)
        {
            if (p % 2 == 1 && p < parts.Length - 1) { sb.Append("<code>").Append(Esc(parts[p])).Append("</code>"); continue; }
            string s = Esc(p % 2 == 1 ? "`" + parts[p] : parts[p]);
            s = ImageRegex().Replace(s, m => Image(WebUtility.HtmlDecode(m.Groups[1].Value), WebUtility.HtmlDecode(m.Groups[2].Value), baseDir));
            s = LinkRegex().Replace(s, m => LinkTarget(WebUtility.HtmlDecode(m.Groups[2].Value)) is { } href
                ? $"<a href=\"{Esc(href)}\">{m.Groups[1].Value}</a>" : m.Groups[1].Value);
            s = BoldRegex().Replace(s, "<strong>$1</strong>");
            sb.Append(s);
        }
        return sb.ToString();
    }

    // in-page anchors only: any other link would leave the self-contained page (a plain label is kept instead)
    private static string? LinkTarget(string href) => href.StartsWith('#') ? href : null;

    private static string Image(string alt, string src, string baseDir)
    {
        string path = Path.GetFullPath(src, baseDir);
        if (src.Contains("://", StringComparison.Ordinal) || !File.Exists(path))
            return $"<em>[figure not available: {Esc(src)}]</em>";
        string mime = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".png" => "image/png",
            ".svg" => "image/svg+xml",
            ".jpg" or ".jpeg" => "image/jpeg",
            _ => "application/octet-stream",
        };
        return $"<img alt=\"{Esc(alt)}\" src=\"data:{mime};base64,{Convert.ToBase64String(File.ReadAllBytes(path))}\">";
    }

    private static string Esc(string s) => WebUtility.HtmlEncode(s);

    [GeneratedRegex(@"^(#{1,6})\s+(.*)$")]
    private static partial Regex HeadingRegex();
    [GeneratedRegex(@"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")]
    private static partial Regex SeparatorRegex();
    [GeneratedRegex(@"!\[([^\]]*)\]\(([^)\s]+)\)")]
    private static partial Regex ImageRegex();
    [GeneratedRegex(@"\[([^\]]+)\]\(([^)\s]+)\)")]
    private static partial Regex LinkRegex();
    [GeneratedRegex(@"\*\*(.+?)\*\*")]
    private static partial Regex BoldRegex();
}
