using System.Text;

namespace Appliance.Core.Console;

/// <summary>What a byte fed to the <see cref="LineEditor"/> asks of the host.</summary>
internal enum EditorEvent
{
    /// <summary>Nothing beyond the echo already written.</summary>
    None,
    /// <summary>Enter: the line is in <see cref="LineEditor.Submitted"/>; the editor is idle until the next <see cref="LineEditor.Begin"/>.</summary>
    Submit,
    /// <summary>Tab: complete the text before the cursor.</summary>
    Complete,
    /// <summary>'?': list what may come at the cursor.</summary>
    Help,
    /// <summary>^C: the line was dropped; a new prompt follows.</summary>
    Interrupt,
    /// <summary>^D on an empty line: the person is done.</summary>
    EndOfInput,
}

/// <summary>
/// A line editor for a dumb terminal on a serial line, fed byte by byte (pure: the host reads the
/// tty and writes <see cref="Output"/>). Printable ASCII is inserted at the cursor; Backspace/DEL,
/// ^A ^E (start, end), ^B ^F and the arrow keys (left, right), ^U (to the start), ^K (to the end),
/// ^W (the word before), ^C (drop the line), ^D (end on an empty line, else delete), ^L (redraw),
/// up/down and ^P ^N (history), Tab and '?'. It writes only printable text, CR, LF, BS and BEL, so
/// it works on any terminal; a line longer than the screen scrolls sideways. Line noise cannot run
/// anything a person did not type: other control bytes, bytes above 0x7E and escape sequences that
/// are broken or unknown are dropped, never inserted.
/// </summary>
internal sealed class LineEditor(int width = LineEditor.DefaultWidth, int historyMax = LineEditor.DefaultHistory)
{
    public const int DefaultWidth = 80;

    /// <summary>Lines kept for up/down; the session's, not saved.</summary>
    public const int DefaultHistory = 200;

    /// <summary>Longest escape sequence taken (parameters and intermediates); longer is noise.</summary>
    private const int MaxEscapeChars = 8;

    private const char Bell = '\a';

    private enum State { Text, Escape, Csi, CsiTooLong, Ss3 }

    private readonly StringBuilder _line = new();
    private readonly StringBuilder _escape = new();
    private readonly List<string> _history = [];
    private State _state;
    private int _cursor;
    private int _shownFrom;   // first character of the line on screen
    private int _shownChars;  // characters written after the prompt last time
    private int _screenCursor; // cursor column after the prompt
    private int _historyAt;   // == _history.Count: the line being edited
    private string _draft = "";
    private bool _afterCr;
    private bool _active;

    /// <summary>What to write to the terminal; the host drains it after each call.</summary>
    public StringBuilder Output { get; } = new();

    public string Prompt { get; private set; } = "";

    public string Line => _line.ToString();

    public int Cursor => _cursor;

    /// <summary>The line of the last <see cref="EditorEvent.Submit"/>.</summary>
    public string Submitted { get; private set; } = "";

    public IReadOnlyList<string> History => _history;

    /// <summary>Columns the line may use after the prompt (the last column is left free: some terminals wrap on it).</summary>
    private int Room => Math.Max(8, width - Prompt.Length - 1);

    /// <summary>Starts a new line: writes <paramref name="prompt"/>; the text is empty.</summary>
    public void Begin(string prompt)
    {
        Prompt = prompt;
        _line.Clear();
        _cursor = 0;
        _shownFrom = 0;
        _shownChars = 0;
        _screenCursor = 0;
        _historyAt = _history.Count;
        _draft = "";
        _active = true;
        _lastVisible = "";
        Output.Append(prompt);
    }

    /// <summary>Writes the prompt and the line again (after a completion list or help was printed below it).</summary>
    public void Redraw()
    {
        Output.Append(Prompt);
        _shownChars = 0;
        _screenCursor = 0;
        _lastVisible = "";
        Render(full: true);
    }

    /// <summary>Replaces the text before the cursor from <paramref name="from"/> with <paramref name="text"/> (a completion).</summary>
    public void Replace(int from, string text)
    {
        int room = CommandLine.MaxLineChars - (_line.Length - (_cursor - from));
        if (text.Length > room)
        {
            Output.Append(Bell);
            return;
        }
        _line.Remove(from, _cursor - from).Insert(from, text);
        _cursor = from + text.Length;
        Render(full: true);
    }

    public EditorEvent Feed(byte b)
    {
        if (!_active)
            return EditorEvent.None;
        bool afterCr = _afterCr;
        _afterCr = false;
        switch (_state)
        {
            case State.Escape:
                if (b == '[') { _state = State.Csi; _escape.Clear(); return EditorEvent.None; }
                if (b == 'O') { _state = State.Ss3; _escape.Clear(); return EditorEvent.None; }
                _state = State.Text;
                // ESC and a printable byte (Alt-key) means nothing here; a control byte after it is itself.
                return IsControl(b) ? Text(b, afterCr) : EditorEvent.None;
            case State.Csi:
                if (b is >= 0x20 and <= 0x3F)
                {
                    if (_escape.Length < MaxEscapeChars)
                        _escape.Append((char)b);
                    else
                        _state = State.CsiTooLong; // dropped up to its final byte, which ends it
                    return EditorEvent.None;
                }
                _state = State.Text;
                if (b is >= 0x40 and <= 0x7E)
                {
                    Csi(_escape.ToString(), (char)b);
                    return EditorEvent.None;
                }
                return IsControl(b) ? Text(b, afterCr) : EditorEvent.None; // broken sequence: dropped
            case State.CsiTooLong:
                if (b is >= 0x20 and <= 0x3F)
                    return EditorEvent.None;
                _state = State.Text;
                return IsControl(b) ? Text(b, afterCr) : EditorEvent.None;
            case State.Ss3:
                _state = State.Text;
                if (b is >= 0x40 and <= 0x7E)
                {
                    Csi("", (char)b);
                    return EditorEvent.None;
                }
                return IsControl(b) ? Text(b, afterCr) : EditorEvent.None;
            default:
                return Text(b, afterCr);
        }
    }

    private static bool IsControl(byte b) => b < 0x20 || b == 0x7F;

    private EditorEvent Text(byte b, bool afterCr)
    {
        switch (b)
        {
            case 0x1B:
                _state = State.Escape;
                return EditorEvent.None;
            case (byte)'\r':
                _afterCr = true;
                return Submit();
            case (byte)'\n':
                return afterCr ? EditorEvent.None : Submit(); // CR LF is one Enter
            case 0x08 or 0x7F:
                Backspace();
                return EditorEvent.None;
            case 0x01: Move(0); return EditorEvent.None;
            case 0x05: Move(_line.Length); return EditorEvent.None;
            case 0x02: Move(_cursor - 1); return EditorEvent.None;
            case 0x06: Move(_cursor + 1); return EditorEvent.None;
            case 0x15: // ^U
                _line.Remove(0, _cursor);
                _cursor = 0;
                Render(full: true);
                return EditorEvent.None;
            case 0x0B: // ^K
                _line.Length = _cursor;
                Render(full: true);
                return EditorEvent.None;
            case 0x17: // ^W
            {
                int from = _cursor;
                while (from > 0 && _line[from - 1] == ' ')
                    from--;
                while (from > 0 && _line[from - 1] != ' ')
                    from--;
                _line.Remove(from, _cursor - from);
                _cursor = from;
                Render(full: true);
                return EditorEvent.None;
            }
            case 0x03: // ^C
                Output.Append("^C\r\n");
                _active = false;
                return EditorEvent.Interrupt;
            case 0x04: // ^D
                if (_line.Length == 0)
                {
                    Output.Append("\r\n");
                    _active = false;
                    return EditorEvent.EndOfInput;
                }
                DeleteAtCursor();
                return EditorEvent.None;
            case 0x0C: // ^L
                Output.Append("\r\n");
                Redraw();
                return EditorEvent.None;
            case 0x10: HistoryStep(-1); return EditorEvent.None;
            case 0x0E: HistoryStep(+1); return EditorEvent.None;
            case (byte)'\t':
                return EditorEvent.Complete;
            case (byte)'?' when !CommandLineOpen():
                return EditorEvent.Help;
            case >= 0x20 and <= 0x7E:
                Insert((char)b);
                return EditorEvent.None;
            default:
                return EditorEvent.None; // other control bytes and non-ASCII: noise
        }
    }

    private bool CommandLineOpen()
    {
        CommandLine.Split(_line.ToString(0, _cursor), out bool open, out _);
        return open;
    }

    private void Csi(string parameters, char final)
    {
        switch (final, parameters)
        {
            case ('A', ""): HistoryStep(-1); break;
            case ('B', ""): HistoryStep(+1); break;
            case ('C', ""): Move(_cursor + 1); break;
            case ('D', ""): Move(_cursor - 1); break;
            case ('H', ""): Move(0); break;
            case ('F', ""): Move(_line.Length); break;
            case ('~', "1" or "7"): Move(0); break;
            case ('~', "4" or "8"): Move(_line.Length); break;
            case ('~', "3"): DeleteAtCursor(); break;
            default: break; // function keys, mouse, anything else: ignored
        }
    }

    private EditorEvent Submit()
    {
        Submitted = _line.ToString();
        Move(_line.Length);
        Output.Append("\r\n");
        if (Submitted.Trim().Length > 0 && (_history.Count == 0 || _history[^1] != Submitted))
        {
            _history.Add(Submitted);
            if (_history.Count > historyMax)
                _history.RemoveAt(0);
        }
        _active = false;
        return EditorEvent.Submit;
    }

    private void Insert(char c)
    {
        if (_line.Length >= CommandLine.MaxLineChars)
        {
            Output.Append(Bell);
            return;
        }
        _line.Insert(_cursor, c);
        _cursor++;
        // The common case, typing at the end with room to spare: echo the character only.
        if (_cursor == _line.Length && _cursor - _shownFrom <= Room && _screenCursor == _shownChars)
        {
            Output.Append(c);
            _shownChars++;
            _screenCursor++;
            _lastVisible += c;
            return;
        }
        Render(full: false);
    }

    private void Backspace()
    {
        if (_cursor == 0)
            return;
        _line.Remove(_cursor - 1, 1);
        _cursor--;
        if (_cursor == _line.Length && _shownFrom == 0 && _screenCursor == _shownChars && _shownChars > 0)
        {
            Output.Append("\b \b");
            _shownChars--;
            _screenCursor--;
            _lastVisible = _lastVisible[..^1];
            return;
        }
        Render(full: false);
    }

    private void DeleteAtCursor()
    {
        if (_cursor >= _line.Length)
            return;
        _line.Remove(_cursor, 1);
        Render(full: false);
    }

    private void Move(int to)
    {
        to = Math.Clamp(to, 0, _line.Length);
        if (to == _cursor)
            return;
        _cursor = to;
        Render(full: false);
    }

    private void HistoryStep(int step)
    {
        int to = _historyAt + step;
        if (to < 0 || to > _history.Count)
            return;
        if (_historyAt == _history.Count)
            _draft = _line.ToString();
        _historyAt = to;
        _line.Clear().Append(to == _history.Count ? _draft : _history[to]);
        _cursor = _line.Length;
        Render(full: true);
    }

    /// <summary>
    /// Brings the screen in line with the text: the visible part of the line (scrolled so the cursor
    /// shows), blanks over what was longer, backspaces to the cursor. Moves within the visible part
    /// are done with BS or by writing the characters passed over; everything else rewrites from the
    /// start of the line after the prompt.
    /// </summary>
    private void Render(bool full)
    {
        int from = _shownFrom;
        if (_cursor < from)
            from = _cursor;
        if (_cursor - from > Room)
            from = _cursor - Room;
        from = Math.Max(0, Math.Min(from, Math.Max(0, _line.Length - Room)));
        if (from > _cursor)
            from = _cursor;
        int shown = Math.Min(_line.Length - from, Room);
        string visible = _line.ToString(from, shown);
        int target = _cursor - from;

        if (!full && from == _shownFrom && shown == _shownChars && _line.ToString(from, shown) == visible && SameText(visible))
        {
            // Only the cursor moved.
            if (target < _screenCursor)
                Output.Append('\b', _screenCursor - target);
            else
                Output.Append(visible, _screenCursor, target - _screenCursor);
            _screenCursor = target;
            return;
        }
        Output.Append('\b', _screenCursor);
        Output.Append(visible);
        int pad = Math.Max(0, _shownChars - shown);
        Output.Append(' ', pad);
        Output.Append('\b', pad + shown - target);
        _shownFrom = from;
        _shownChars = shown;
        _screenCursor = target;
        _lastVisible = visible;
    }

    private string _lastVisible = "";

    private bool SameText(string visible) => visible == _lastVisible;
}
