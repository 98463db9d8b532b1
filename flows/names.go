package flows

import "fmt"

// String returns the flow's name as used in logs and test failures.
func (f Flow) String() string {
	switch f {
	case FlowNone:
		return "none"
	case FlowPause:
		return "pause"
	case FlowQuick:
		return "quick"
	case FlowReframe:
		return "reframe"
	case FlowCheckin:
		return "checkin"
	case FlowSafetyPlan:
		return "safety-plan"
	case FlowFollowup:
		return "followup"
	default:
		return fmt.Sprintf("Flow(%d)", int(f))
	}
}

// String returns the step's name as used in logs and test failures.
func (s Step) String() string {
	switch s {
	case StepNone:
		return "none"
	case StepWhat:
		return "what"
	case StepStory:
		return "story"
	case StepFeeling:
		return "feeling"
	case StepFeelingOther:
		return "feeling-other"
	case StepStrength:
		return "strength"
	case StepFacts:
		return "facts"
	case StepOthers:
		return "others"
	case StepNext:
		return "next"
	case StepStrengthAfter:
		return "strength-after"
	case StepSummary:
		return "summary"
	case StepReframeStory:
		return "reframe-story"
	case StepReframeTrue:
		return "reframe-true"
	case StepReframeAbsolutely:
		return "reframe-absolutely"
	case StepReframeReact:
		return "reframe-react"
	case StepReframeTraps:
		return "reframe-traps"
	case StepReframeWithout:
		return "reframe-without"
	case StepReframeSummary:
		return "reframe-summary"
	case StepResumeOffer:
		return "resume-offer"
	case StepCheckin:
		return "checkin"
	case StepPlanSigns:
		return "plan-signs"
	case StepPlanHelps:
		return "plan-helps"
	case StepPlanPeople:
		return "plan-people"
	case StepRumble:
		return "rumble"
	case StepCheckBack:
		return "check-back"
	case StepReframeBelief:
		return "reframe-belief"
	case StepReframeTrapList:
		return "reframe-trap-list"
	case StepReframeTurnaround:
		return "reframe-turnaround"
	case StepReframeExample:
		return "reframe-example"
	case StepReframeNext:
		return "reframe-next"
	case StepReframeBeliefAfter:
		return "reframe-belief-after"
	case StepFollowupAsk:
		return "followup-ask"
	case StepFollowupFound:
		return "followup-found"
	case StepFollowupTrue:
		return "followup-true"
	case StepFollowupAgain:
		return "followup-again"
	default:
		return fmt.Sprintf("Step(%d)", int(s))
	}
}

// String returns the reply kind's name as used in logs, metrics and test failures.
func (k ReplyKind) String() string {
	switch k {
	case ReplyPrompt:
		return "prompt"
	case ReplyInfo:
		return "info"
	case ReplySummary:
		return "summary"
	case ReplyProblem:
		return "problem"
	case ReplyCrisis:
		return "crisis"
	default:
		return fmt.Sprintf("ReplyKind(%d)", int(k))
	}
}

// title is the flow's name in a sentence ("You have a quick pause open.").
func (f Flow) title() string {
	switch f {
	case FlowQuick:
		return "quick pause"
	case FlowReframe:
		return "reframe"
	case FlowCheckin:
		return "check-in"
	case FlowSafetyPlan:
		return "safety plan"
	case FlowFollowup:
		return "follow-up"
	default:
		return "pause"
	}
}
