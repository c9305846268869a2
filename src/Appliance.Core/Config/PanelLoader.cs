using Appliance.Core.Board;
using Appliance.Core.Panel;

namespace Appliance.Core.Config;

/// <summary>
/// Reads <c>board</c> and <c>panel</c>: finds the board profile (through the edge's
/// <see cref="BoardCatalog"/>), reads it (its errors keep the profile's file:line:col) and checks
/// every panel name against it (errors at the config's file:line:col).
/// </summary>
internal static class PanelLoader
{
    public sealed record Outcome(bool Ok, BoardProfile? Board, PanelConfig? Panel);

    public static Outcome Read(MapReader top, BoardCatalog? boards, Diagnostics diag)
    {
        var configured = top.Get(PanelSchema.Board);
        bool panelPresent = top.Has(PanelSchema.Panel);
        var panelReader = panelPresent ? top.Section(PanelSchema.Panel) : null;
        if (!configured.Ok || (panelPresent && panelReader is null))
            return new(false, null, null);

        string? reference = boards?.Override ?? configured.Value;
        if (reference is null)
        {
            if (!panelPresent)
                return new(true, null, null);
            diag.Add(panelReader!.Position, "panel", "a panel needs a board profile: set `board` (like `board: lab`) or start applianced with --board");
            return new(false, null, null);
        }
        var board = LoadBoard(reference, configured, boards, diag);
        if (board is null)
            return new(false, null, null);
        if (!panelPresent)
            return new(true, board, null);
        var panel = ReadPanel(panelReader!, board, diag);
        return new(panel is not null, board, panel);
    }

    private static BoardProfile? LoadBoard(string reference, Field<string> configured, BoardCatalog? boards, Diagnostics diag)
    {
        // An override (applianced --board) has no place in the file; point at `board` or the top.
        SourcePosition at = configured.Present ? configured.Position : SourcePosition.Start;
        string path = configured.Present ? "board" : "";
        string given = boards?.Override is not null && !configured.Present ? $"--board {reference}: " : "";
        if (boards is null)
        {
            diag.Add(at, path, "board profiles cannot be read here; check this config with `appliancectl config check`");
            return null;
        }
        var text = boards.Find(reference);
        if (text is null)
        {
            diag.Add(at, path, $"{given}no board profile '{reference}'{(reference.StartsWith('/') ? "" : boards.SearchedDoc.Length > 0 ? $" (looked for {reference}.yaml in {boards.SearchedDoc})" : "")}");
            return null;
        }
        var result = BoardLoader.Load(text);
        foreach (var e in result.Errors)
            diag.AddForeign(e);
        if (result.Profile is not { } profile)
        {
            diag.Add(at, path, $"{given}board profile {text.Path} has errors");
            return null;
        }
        if (configured.Present && !configured.Value!.StartsWith('/') && profile.Name != configured.Value)
        {
            diag.Add(at, path, boards.Override is not null
                ? $"the config names board '{configured.Value}' but applianced --board gives board '{profile.Name}' ({text.Path})"
                : $"board profile {text.Path} is named '{profile.Name}', not '{configured.Value}'");
            return null;
        }
        return profile;
    }

    private static PanelConfig? ReadPanel(MapReader panel, BoardProfile board, Diagnostics diag)
    {
        var used = new Dictionary<string, string>(StringComparer.Ordinal);
        bool ok = true;
        BoardLine? Line(MapReader? r, ScalarOption<string> option, LineUse use)
        {
            if (r is null)
            {
                ok = false;
                return null;
            }
            var f = r.Get(option);
            if (!f.Ok)
            {
                ok = false;
                return null;
            }
            if (!f.Present)
                return null;
            var line = board.FindLine(f.Value!);
            if (line is null)
            {
                var ofUse = board.Lines.Where(l => l.Use == use).Select(l => l.Name).ToList();
                string? guess = Suggest.Closest(f.Value!, ofUse);
                diag.Add(f.Position, f.Path, $"board '{board.Name}' has no line '{f.Value}'" + (guess is not null ? $"; did you mean '{guess}'?"
                    : ofUse.Count > 0 ? $"; its {BoardLoader.Use(use)} lines are {string.Join(", ", ofUse)}"
                    : $"; it has no {BoardLoader.Use(use)} lines"));
                ok = false;
                return null;
            }
            if (line.Use != use)
            {
                diag.Add(f.Position, f.Path, $"line '{line.Name}' of board '{board.Name}' is of use {BoardLoader.Use(line.Use)}, not {BoardLoader.Use(use)}");
                ok = false;
                return null;
            }
            if (!used.TryAdd(line.Name, f.Path))
            {
                diag.Add(f.Position, f.Path, $"line '{line.Name}' is already used by {used[line.Name]}");
                ok = false;
                return null;
            }
            return line;
        }

        var leds = panel.Section(PanelSchema.PanelLeds);
        var ledConfig = new PanelLeds(Line(leds, PanelSchema.LedPower, LineUse.Led), Line(leds, PanelSchema.LedActive, LineUse.Led),
            Line(leds, PanelSchema.LedPeer, LineUse.Led), Line(leds, PanelSchema.LedFault, LineUse.Led));
        var buttons = panel.Section(PanelSchema.PanelButtons);
        var buttonConfig = new PanelButtons(Line(buttons, PanelSchema.ButtonSelect, LineUse.Button),
            Line(buttons, PanelSchema.ButtonNext, LineUse.Button), Line(buttons, PanelSchema.ButtonPrev, LineUse.Button));
        PanelLcd? lcd = null;
        if (panel.Has(PanelSchema.PanelLcd))
        {
            var r = panel.Section(PanelSchema.PanelLcd);
            var kind = r?.Get(PanelSchema.LcdKind);
            var size = r?.Get(PanelSchema.LcdSizeOption);
            if (r is null || kind is not { Ok: true } || size is not { Ok: true })
                ok = false;
            else if (board.Lcd is null)
            {
                diag.Add(r.Position, r.Path, $"board '{board.Name}' ({board.SourcePath}) has no lcd");
                ok = false;
            }
            else
                lcd = new PanelLcd(kind.Value.Value, size.Value.Value, board.Lcd);
        }
        var hold = panel.Get(PanelSchema.PanelHold);
        var debounce = panel.Get(PanelSchema.PanelDebounce);
        var stuck = panel.Get(PanelSchema.PanelStuck);
        ok &= hold.Ok && debounce.Ok && stuck.Ok;
        if (hold.Ok && stuck.Ok && stuck.Value <= hold.Value)
        {
            diag.Add(stuck.Position, stuck.Path, $"stuck ({Duration.Format(stuck.Value)}) must be longer than hold ({Duration.Format(hold.Value)}): a button held for the hold would count as stuck first");
            ok = false;
        }
        return ok ? new PanelConfig(ledConfig, lcd, buttonConfig,
            PanelTimings.Default with { Hold = hold.Value, Debounce = debounce.Value, Stuck = stuck.Value }) : null;
    }
}
