namespace Appliance.Core.Monitors;

public enum MonitorState { Up, Down }

/// <summary>
/// Rise/fall hysteresis over probe results (as ldirectord and keepalived checkers do): a monitor
/// goes down after <c>fall</c> failures in a row and up again after <c>rise</c> passes in a row, so
/// one lost probe does not move the VIP. A monitor starts up: a node is not declared unfit before
/// anything has failed.
/// </summary>
public sealed class MonitorJudge(int rise, int fall)
{
    private int _passes;
    private int _failures;

    public MonitorState State { get; private set; } = MonitorState.Up;

    /// <summary>Records one probe; true when the state changed.</summary>
    public bool Record(bool passed)
    {
        if (passed)
        {
            _failures = 0;
            _passes++;
            if (State == MonitorState.Down && _passes >= rise)
            {
                State = MonitorState.Up;
                return true;
            }
        }
        else
        {
            _passes = 0;
            _failures++;
            if (State == MonitorState.Up && _failures >= fall)
            {
                State = MonitorState.Down;
                return true;
            }
        }
        return false;
    }
}
