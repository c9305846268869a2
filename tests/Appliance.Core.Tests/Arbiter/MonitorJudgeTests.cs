using Appliance.Core.Monitors;

namespace Appliance.Core.Tests.Arbiter;

public class MonitorJudgeTests
{
    [Fact]
    public void Falls_after_fall_failures_in_a_row_and_rises_after_rise_passes()
    {
        var j = new MonitorJudge(rise: 2, fall: 3);
        Assert.Equal(MonitorState.Up, j.State);
        Assert.False(j.Record(false));
        Assert.False(j.Record(false));
        Assert.False(j.Record(true)); // a pass resets the failure run
        Assert.False(j.Record(false));
        Assert.False(j.Record(false));
        Assert.True(j.Record(false));
        Assert.Equal(MonitorState.Down, j.State);
        Assert.False(j.Record(true));
        Assert.False(j.Record(false)); // a failure resets the pass run
        Assert.False(j.Record(true));
        Assert.True(j.Record(true));
        Assert.Equal(MonitorState.Up, j.State);
    }
}
