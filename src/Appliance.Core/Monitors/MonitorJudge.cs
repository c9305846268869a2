namespace Appliance.Core.Monitors;

public enum MonitorState { Up, Down }

/// <summary>
/// Rise/fall hysteresis over probe results (as ldirectord and keepalived checkers do): a monitor
/// goes down after <c>fall</c> failures in a row and up again after <c>rise</c> passes in a row, so
/// one lost probe does not move the VIP. A monitor starts up: a node is not declared unfit before
/// anything has failed. A real-server check may start down instead (`start: down`, keepalived's
/// `alpha`): then it needs <c>rise</c> passes before it takes clients.
/// </summary>
public sealed class MonitorJudge(int rise, int fall, MonitorState initial = MonitorState.Up)
{
    private int _passes;
    private int _failures;

    public MonitorState State { get; private set; } = initial;

    /// <summary>Passes in a row so far (0 after a failure).</summary>
    public int Passes => _passes;

    /// <summary>Failures in a row so far (0 after a pass).</summary>
    public int Failures => _failures;

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
