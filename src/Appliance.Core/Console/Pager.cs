using System.Text;

namespace Appliance.Core.Console;

/// <summary>
/// Pages a command's output on a terminal of <see cref="Rows"/> x <see cref="Columns"/> (a dumb
/// 80x24 serial terminal by default): a screenful less one line, then a <c>--More--</c> line; Space
/// shows the next screenful, Enter one more line, q (or ^C) drops the rest. Lines wider than the
/// screen count as the rows they wrap to. Pure: fed keys, it fills <see cref="Output"/>.
/// </summary>
internal sealed class Pager
{
    public const string MorePrompt = "--More-- (space: next page, enter: next line, q: quit)";

    private readonly List<string> _rows = [];
    private int _next;

    public Pager(string text, int rows = 24, int columns = 80)
    {
        Rows = Math.Max(2, rows);
        Columns = Math.Max(10, columns);
        if (text.EndsWith('\n'))
            text = text[..^1];
        if (text.Length == 0)
            return;
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0)
            {
                _rows.Add("");
                continue;
            }
            for (int i = 0; i < line.Length; i += Columns)
                _rows.Add(line.Substring(i, Math.Min(Columns, line.Length - i)));
        }
    }

    public int Rows { get; }

    public int Columns { get; }

    /// <summary>What to write to the terminal; the host drains it.</summary>
    public StringBuilder Output { get; } = new();

    /// <summary>All shown, or the rest dropped.</summary>
    public bool Done => _next >= _rows.Count;

    /// <summary>Writes the first screenful (and the prompt if more follows).</summary>
    public void Start() => Show(Rows - 1);

    /// <summary>A key at the <c>--More--</c> prompt; other keys are ignored.</summary>
    public void Key(byte b)
    {
        if (Done)
            return;
        int count = b switch
        {
            (byte)' ' => Rows - 1,
            (byte)'\r' or (byte)'\n' => 1,
            (byte)'q' or (byte)'Q' or 0x03 => -1,
            _ => 0,
        };
        if (count == 0)
            return;
        Output.Append('\r').Append(' ', MorePrompt.Length).Append('\r');
        if (count < 0)
        {
            _next = _rows.Count;
            return;
        }
        Show(count);
    }

    private void Show(int count)
    {
        int end = Math.Min(_rows.Count, _next + count);
        for (; _next < end; _next++)
            Output.Append(_rows[_next]).Append('\n');
        if (!Done)
            Output.Append(MorePrompt);
    }
}
