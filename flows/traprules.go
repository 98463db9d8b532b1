package flows

import (
	"regexp"
	"strings"
)

// The thinking-trap rules. Each is a regular expression over a sentence's normalised words
// (see trapTokens: lower case, contractions expanded, "@" for a name, "q" for a quote), written
// with the macros in ruleMacros, and run only when one of its anchor words is present.
// A rule's weight says how sure it is; SuggestTraps keeps the best two at or above minScore.
//
// They were written against the training part of the corpus in testdata/traps; the corpus
// test reports how they do on the held-out part. Add a sentence to the corpus before you add
// or loosen a rule.

// ruleMacros are shorthands used in the rules' patterns.
var ruleMacros = strings.NewReplacer(
	// {w}: any one word. (A match with a "not" inside is dropped unless its rule spells the
	// "not" out: see trapRule.notInside.)
	"{w}", `[a-z0-9@'][a-z0-9'-]*`,
	// {gN}: a gap of up to N words.
	"{g1}", `(?:{w} )?`,
	"{g2}", `(?:{w} ){0,2}`,
	"{g3}", `(?:{w} ){0,3}`,
	"{g4}", `(?:{w} ){0,4}`,
	"{g6}", `(?:{w} ){0,6}`,
	"{g8}", `(?:{w} ){0,8}`,
	// {nN}: a gap of up to N words that may include "not".
	"{n6}", `(?:{w} ){0,6}`,
	"{n8}", `(?:{w} ){0,8}`,
	// {o}: someone else as the subject (a pronoun, a name, or "my boss", "the new lead").
	"{o}", `(?:he|she|they|@|everyone|everybody|people|(?:my|the|our|his|her|their) (?:{w} )?{w})`,
	// {p}: a person or people, as the subject of a rule about them.
	"{p}", `(?:he|she|they|@|(?:(?:my|the|our|his|her|their|your|a|any) (?:{w} )?)?{pn})`,
	"{pn}", `(?:boss|bosses|manager|managers|partner|wife|husband|friend|friends|team|teammates?|colleagues?|coworkers?|co-workers?|clients?|customers?|lead|director|ceo|mum|mom|dad|mother|father|parents?|sister|brother|kids|children|son|daughter|teachers?|family|interviewers?|in-laws|ex|flatmate|landlord|reviewers?|others|hire|staff|designer|developer|teenager|neighbou?r|leaders?|adults?|men|women|employees|management|finance|hr|sales|everyone|people|guys|@)`,
	// {me}: the speaker as an object.
	"{me}", `(?:me|my|myself|us|our|we are|i am|i|we)`,
	// {obj}: the speaker or their work as an object: "me", "my update".
	"{obj}", `(?:me|myself|us|my {w}|our {w})`,
	// {adv}: adverbs that may sit inside a verb group.
	"{adv}", `(?:(?:really|just|all|probably|obviously|clearly|definitely|secretly|already|totally|still|now|actually|so|even|also|only|truly|certainly|honestly|basically|literally) )*`,
	// {fut}: a future or prediction.
	"{fut}", `(?:will|would|is going to|are going to|am going to|going to|is bound to|are bound to|bound to)`,
)

// ruleOpt changes a rule.
type ruleOpt func(*trapRule)

// inQuestions lets a rule apply in a question.
func inQuestions(r *trapRule) { r.ask = true }

// despiteNot keeps a rule's match even after a "not".
func despiteNot(r *trapRule) { r.negOK = true }

// needs adds a second set of words, one of which must also be in the sentence.
func needs(words string) ruleOpt {
	return func(r *trapRule) { r.also = strings.Fields(words) }
}

// vetted adds a check on a match.
func vetted(f func(sn *sentence, first, last int) bool) ruleOpt {
	return func(r *trapRule) { r.check = f }
}

func rule(trap string, weight float64, anchors, pattern string, opts ...ruleOpt) trapRule {
	p := pattern
	for i := 0; i < 4 && strings.Contains(p, "{"); i++ {
		p = ruleMacros.Replace(p)
	}
	r := trapRule{trap: trap, weight: weight, anchors: strings.Fields(anchors),
		re: regexp.MustCompile(` (?:` + p + `) `),
		// A rule that spells out a "not" (or a gap that may hold one) reads negation itself.
		notInside: strings.Contains(pattern, "not") || strings.Contains(pattern, "{n")}
	for _, o := range opts {
		o(&r)
	}
	return r
}

// notPlanAfter vets a reasoning match: what follows the "so" must be a conclusion ("so I must
// be", "so it is"), not a plan ("so I'm going to rest").
func notPlanAfter(sn *sentence, first, last int) bool {
	if sn.toks[last].w != "so" {
		return true
	}
	rest := " " + wordsOf(sn.toks[last+1:])
	for _, p := range []string{" i am going to ", " i will ", " i should ", " i need ", " i want ", " i might ",
		" i can ", " we ", " let ", " i would like ", " i am gonna ", " i will try ", " i have to ", " i am taking ",
		" i am off "} {
		if strings.HasPrefix(rest, p) {
			return false
		}
	}
	return true
}

// trapRules are all the rules, grouped by trap.
var trapRules = []trapRule{
	// All-or-nothing thinking: the whole thing is ruined, perfect or worthless.
	rule("all-or-nothing", 0.85, "whole entire",
		`(?:the |my |this |our |that )?(?:whole|entire) {g3}(?:is |was |were |are |has been |will be |feels )?(?:completely |totally |now )?(?:ruined|wasted|spoiled|spoilt|wrecked|useless|worthless|pointless|blown|a (?:waste|write-off|write off|failure|flop|mess|disaster)|a total (?:waste|write-off|write off|failure|flop|mess)|fell apart|for nothing|over)`),
	rule("all-or-nothing", 0.8, "complete completely total totally totaly entire entirely utter utterly absolute",
		`(?:a )?(?:complete|completely|total|totally|totaly|entirely|utter|utterly|absolute) (?:failure|waste|mess|flop|write-off|write off|wasted|ruined|useless|worthless|hopeless|unreliable|blown|wrecked|spoiled|spoilt|pointless)`),
	rule("all-or-nothing", 0.8, "perfect perfectly flawless every",
		`(?:if|unless) {n8}(?:perfect|perfectly|flawless|every) {n8}(?:, )?{n6}(?:worthless|no point|a failure|failed|fail|useless|not worth|for nothing|ruined|a flop|wasted|nothing)`),
	rule("all-or-nothing", 0.8, "either",
		`either {g8}or {g6}(?:nothing|garbage|rubbish|done|dead|over|against|a failure|worthless|useless|hates|the worst)`),
	rule("all-or-nothing", 0.8, "between middle black all",
		`(?:no in between|no in-between|no middle ground|black and white|all or nothing)`),
	rule("all-or-nothing", 0.75, "nothing",
		`nothing (?:i |we )?(?:{w} )?(?:ever )?(?:do |did |does |try |tried )?(?:{w} )?(?:went|goes|go|is going|works|worked|turned out) (?:right|well)`),
	rule("all-or-nothing", 0.75, "anything",
		`anything (?:less|short) (?:than|of)`),
	rule("all-or-nothing", 0.7, "everything",
		`everything (?:about {g3})?(?:went|goes|has gone|is going) wrong`),
	rule("all-or-nothing", 0.7, "failed failure flop",
		`(?:so|which means|means) (?:basically )?(?:i|it|we) (?:basically )?(?:failed|was a failure|is a failure|am a failure|was a flop|is a flop)`),
	rule("all-or-nothing", 0.7, "completely totally entirely",
		`(?:fell apart|failed|blew up|ruined|wasted|spoiled|wrecked|blown) (?:completely|totally|entirely)`),
	rule("all-or-nothing", 0.7, "achieved accomplished nothing",
		`(?:achieved|accomplished) nothing|(?:was|were|is|been) (?:all )?for nothing`),
	rule("all-or-nothing", 0.7, "ruined wrecked spoiled spoilt blown",
		`(?:it|the (?:day|week|weekend|evening|night|holiday|trip|quarter|year|plan|diet)|the diet) (?:is|was|are|has been) (?:completely |totally |now )?(?:ruined|wrecked|spoiled|spoilt|blown)`),
	rule("all-or-nothing", 0.7, "all",
		`(?:ruined|wasted|spoiled|wrecked) , all of it`),
	rule("all-or-nothing", 0.75, "flawless perfect brilliant",
		`(?:flawless|perfect|brilliant|the best) or (?:garbage|rubbish|nothing|a failure|worthless|useless|terrible)`),

	// Mind reading: what others think or feel about me, as if I could hear it.
	rule("mind-reading", 0.9, "think thinks thought believe believes assume assumes know knows reckon reckons decided wonder wondering consider considers",
		`((?:think|thinks|thought|believe|believes|assume|assumes|know|knows|reckon|reckons|consider|considers|decided)) (?:that )?(?:i|me|my|we are|we were|our)`,
		subjectIs(otherPerson)),
	rule("mind-reading", 0.9, "hate hates resent resents dislike dislikes judging annoyed angry mad fed sick bored tired disappointed laughing against gone fail sorry",
		`{o} {g4}((?:hate|hates|resent|resents|dislike|dislikes|is judging|are judging|was judging|were judging|judging|is annoyed with|are annoyed with|annoyed with|angry with|angry at|mad at|fed up with|sick of|bored of|bored with|bored by|tired of|disappointed in|disappointed with|laughing at|look down on|looks down on|(?:is|are) (?:all )?against|feels? sorry for|felt sorry for) {obj})`),
	rule("mind-reading", 0.85, "irritated furious angry annoyed upset cross frustrated disappointed unhappy embarrassed ashamed",
		`{o} (?:is |are |was |were |seems |seemed |looks |looked |must be |is really |was really )?{adv}((?:irritated|furious|angry|annoyed|upset|cross|frustrated|disappointed|unhappy|embarrassed|ashamed) (?:with |at |by |of |in |that |because )?(?:i|me|my|us))`,
		vetted(func(sn *sentence, first, last int) bool {
			return first == 0 || !hypothetical[sn.toks[first-1].w] // "if she's upset with me"
		})),
	rule("mind-reading", 0.85, "regret regrets regretted less badly poorly",
		`(?:regret|regrets|regretted) (?:hiring|picking|choosing|inviting|promoting|asking|marrying|trusting|helping) (?:me|us)|(?:think|thinks|thought) (?:less|badly|poorly|little) of (?:me|us)`),
	rule("mind-reading", 0.85, "wants want",
		`{o} {adv}(?:wants?|would like) (?:me|us) (?:gone|out|to fail|to quit|to leave)`),
	rule("mind-reading", 0.85, "like respect trust care want",
		`{o} ((?:does|do|did) not {adv}(?:like|respect|trust|care about|want|rate|value|believe in) {obj})`),
	rule("mind-reading", 0.85, "care",
		`{o} (?:does|do|did) not {adv}care (?:what|about) (?:i|me|my)`),
	rule("mind-reading", 0.85, "see sees view views",
		`(?:see|sees|view|views|saw|regard|regards) (?:me|us) as|see through (?:me|us)`),
	rule("mind-reading", 0.8, "find finds found",
		`{o} {adv}(?:must have |probably |{adv})*(?:find|finds|found) (?:me|us|my {w}|our {w}) (?:boring|annoying|irritating|stupid|useless|dull|difficult|too|shallow|weak|naive|silly|embarrassing|pathetic)`),
	rule("mind-reading", 0.8, "mind minds",
		`(?:made|make) up (?:his|her|their) minds? about (?:me|us)|already decided (?:that )?(?:i|we)`),
	rule("mind-reading", 0.8, "impressed",
		`{o} (?:was|is|were|are) not {adv}(?:at all )?impressed (?:with|by) (?:me|my|us)`, despiteNot),
	rule("mind-reading", 0.75, "wondering",
		`{o} (?:must be |are |is )?wondering why`),
	rule("mind-reading", 0.75, "annoyed upset bored offended hurt angered irritated",
		`i must have (?:annoyed|upset|bored|offended|hurt|angered|irritated|disappointed) (?:him|her|them|@|you)`),
	rule("mind-reading", 0.8, "judging",
		`(?:all |everyone |they are |are )judging (?:me|us)`),
	rule("mind-reading", 0.7, "purpose",
		`{o} {g4}on purpose`),
	rule("mind-reading", 0.7, "hate hates",
		`(?:client|customer|customers|clients|they|everyone|he|she) {adv}(?:hates|hate) (?:us|me)`),

	// Fortune telling: a bad outcome predicted as if already decided.
	rule("fortune-telling", 0.85, "going will gonna bound",
		`(?:i|we) (?:am |are )?(?:{fut}|will) {adv}(?:fail|mess|screw|freeze|blank|bomb|flop|choke|lose|get it wrong|be stuck|be rejected|make a fool|look stupid|look like an idiot|embarrass myself|fall apart|never)`),
	rule("fortune-telling", 0.85, "going will gonna bound",
		`((?:is |are )?(?:{fut}|will) {adv}(?:fail|go (?:badly|wrong|horribly|terribly|pear)|end (?:badly|in)|bomb|flop|tank|crash|collapse|break|say no|say (?:it is |i am |that )?not good enough|reject|hate|cancel|cut|get cut|be cut|close|shut down|come|show up|turn up|pick someone else|choose someone else|push me out|replace me|let me go|fire me|sack me|leave me|fall through|fall apart|get worse|be furious|be angry|be awful|be terrible|be horrible|be bad|be a disaster|be a nightmare|be a mess|be awkward|be a grilling|be a waste|laugh|judge|blame me|go under|never))`,
		vetted(notMine)),
	rule("fortune-telling", 0.85, "not",
		`(?:{o}|it|this|that|the {w}|the {w} {w}|i|we) (?:will not|would not) {adv}(?:ever )?(?:work|sign|call|get|make|accept|approve|like|forgive|be renewed|be approved|listen|help|change|let|hire|pass|happen|improve|come|reply|answer|agree|go well|be able|make it|find|cope|manage|say yes|want|choose|pick|last)`, despiteNot, needs("will would")),
	rule("fortune-telling", 0.85, "never",
		`(?:will never|would never|am never going to|are never going to|is never going to|never going to) (?:{w} )?(?:be|get|find|work|make|change|have|afford|pass|let|see|land|finish|hit|catch|win|understand|trust|forgive|recover|improve)`),
	rule("fortune-telling", 0.85, "going will gonna",
		`(?:will|is going to|are going to|am going to|going to) {adv}be (?:a |an |another )?{adv}(?:awful|terrible|horrible|bad|disaster|nightmare|mess|awkward|grilling|waste|failure|flop|humiliating|embarrassing|brutal|hell)`,
		needs("awful terrible horrible bad disaster nightmare mess awkward grilling waste failure flop humiliating embarrassing brutal hell")),
	rule("fortune-telling", 0.7, "doomed",
		`doomed`),
	rule("fortune-telling", 0.8, "way",
		`there is no way|no way (?:they|he|she|it|this|we|i) (?:will|would|can|are going to|is going to)`),
	rule("fortune-telling", 0.8, "know sure bet",
		`(?:i just know|i know|i am sure|i am certain|i bet|i can tell) (?:that )?{g4}(?:will|is going to|are going to|going to)`),
	rule("fortune-telling", 0.8, "going",
		`(?:is|are|am|it is|its|things are) (?:not )?going to (?:be )?(?:another )?(?:terrible|awful|horrible|a nightmare|a disaster|a mess|hell|brutal|a grilling|get any better|be okay)`, despiteNot),
	rule("fortune-telling", 0.75, "forever",
		`(?:be |stay |remain )?stuck {g4}forever`),

	// Catastrophising: the worst outcome, and as if it were likely.
	rule("catastrophising", 0.8, "disaster disastrous catastrophe catastrophic",
		`(?:disaster|disastrous|catastrophe|catastrophic)`,
		vetted(func(sn *sentence, first, last int) bool { return !reported(sn, first) && !joking(sn) })),
	rule("catastrophising", 0.85, "over finished ruined destroyed done ended end",
		`(?:my |our |his |her |their )?(?:career|life|marriage|reputation|friendship|business|relationship|future|company|family) (?:is|will be|would be|are|is going to be) (?:completely |totally )?(?:over|finished|ruined|destroyed|done|ended)|(?:end|ruin|destroy|kill) (?:my|our) (?:career|life|marriage|reputation|business)`),
	rule("catastrophising", 0.8, "fired sacked go lose street under replace again",
		`(?:get|be|being|getting) (?:fired|sacked|let go)|lose (?:my|our|the) (?:job|jobs|house|home|flat|client|business|kids)|lose everything|out on the street|go under|(?:will|going to|would) (?:replace|fire|sack) (?:me|us)|never work {g4}again`),
	rule("catastrophising", 0.75, "not cope handle bear stand take",
		`can not (?:cope|handle (?:this|it|any)|bear|stand (?:it|this)|take (?:it|this|any more|anymore))`, despiteNot,
		vetted(notInImaginedView)),
	rule("catastrophising", 0.75, "close shut bust bankrupt",
		`(?:will|going to|would) (?:have to )?(?:close|shut down|go bust|go bankrupt|fold)`),
	rule("catastrophising", 0.75, "apart collapse collapsing crumbling falling",
		`(?:falling apart|fall apart|going to collapse|will collapse|collapsing|crumbling|falling down)`),
	rule("catastrophising", 0.75, "something attack breakdown",
		`something (?:serious|terrible|awful|horrible|bad) (?:must have|has|is going to|will) (?:happened|happen)|has to be something serious|heart attack|(?:have|having) a breakdown|something serious`),
	rule("catastrophising", 0.85, "worst world back unforgivable recover",
		`the worst thing (?:that )?(?:could|can) (?:ever )?(?:have )?happen(?:ed)?|end of the world|no coming back|unforgivable|never recover|can not recover`),
	rule("catastrophising", 0.8, "ruined finished doomed screwed done",
		`(?:i am|we are|i will be|we will be|we would be|everything will be|everything is going to be) (?:completely |totally |all )?(?:ruined|finished|doomed|screwed|done for)`),
	rule("catastrophising", 0.75, "nightmare unbearable hell wrong",
		`(?:it|this|that|life) (?:is|will be|has been) (?:a |an absolute |a total |a living )?(?:nightmare|unbearable|hell)|unbearable|horribly wrong`,
		vetted(func(sn *sentence, first, last int) bool { return !joking(sn) })),
	rule("catastrophising", 0.75, "sue",
		`(?:will|going to) sue (?:us|me)`),

	// Should statements: rules for how I or others must be — not plans ("I should ask Sam").
	rule("should-statements", 0.85, "should ought shouldve",
		`(?:i|we|{p}) {adv}(?:should|ought to|should not|ought not to) {adv}(?:never )?have {w}`, despiteNot, needs("have")),
	rule("should-statements", 0.8, "should ought",
		`i {adv}(?:should|ought to|should not|ought not to) {adv}(?:be|feel|know|enjoy|need|always|never|manage|cope|handle|want|like|love|care|mind|cry|complain|struggle|find|get over|look|sound|seem|earn|own|already|have to|stop)`,
		despiteNot, vetted(func(sn *sentence, first, last int) bool {
			rest := " " + wordsOf(sn.toks[last+1:])
			for _, p := range []string{" at ", " in ", " there ", " home ", " back ", " on ", " ready ", " done ", " fine ", " free ", " off "} {
				if sn.toks[last].w == "be" && strings.HasPrefix(rest, p) {
					return false
				}
			}
			return true
		})),
	rule("should-statements", 0.8, "should ought must",
		`(?:should|ought to|should not|ought not to|must not|must never|must always) {adv}(?:never |always )?{w}`, despiteNot,
		needs(peopleWords), subjectIs(func(w, before string) bool { return people[w] })),
	rule("should-statements", 0.75, "supposed",
		`(?:am|is|are|was|were) supposed to`),
	rule("should-statements", 0.85, "always never not one",
		`i (?:must|have to|need to) (?:always|never|not)|i must be the one`, despiteNot,
		vetted(func(sn *sentence, first, last int) bool {
			// "so I must not matter" is a conclusion, not a rule.
			if first > 0 && concludes[sn.toks[first-1].w] {
				return false
			}
			return last+1 >= len(sn.toks) || !epistemic[sn.toks[last+1].w]
		})),
	rule("should-statements", 0.85, "perfect everything every everyone all available strong one",
		`(?:i|we) (?:must|have to|need to|ought to|should) (?:always )?(?:be perfect|get (?:everything|every {g2}|it all) right|keep everyone|please everyone|make everyone|do (?:everything|it all)|be available|be strong|be the one)`),
	rule("should-statements", 0.8, "good real proper decent grown normal competent better grown-up",
		`(?:a|any) (?:good|real|proper|decent|grown|normal|competent|better|grown-up) (?:{w} )?(?:manager|parent|mother|mum|mom|father|dad|professional|adult|friend|leader|partner|person|employee|engineer|wife|husband|daughter|son|man|woman) (?:would|does not|do not|never|should|always|can|could|knows|would have)`, despiteNot),
	rule("should-statements", 0.8, "good real proper",
		`(?:good|real|proper) (?:parents|managers|friends|leaders|professionals|mothers|fathers|mums|dads|partners) (?:do not|never|always|should)`, despiteNot),

	// Labelling: one word for a whole person.
	rule("labelling", 0.85, "idiot stupid loser failure useless incompetent worthless pathetic fraud impostor imposter lazy moron clueless hopeless weak coward disappointment mess burden unlovable boring screw-up screwup dumb fool liability joke slob selfish pushover doormat wimp klutz wreck fake",
		`(?:i am|i was|i feel like|i am just|what an?|i have always been|i will always be) {adv}(?:such |so |a |an |the |complete |total |absolute |real |bit of a |such a |such an |total |utter )*(?:idiot|stupid|loser|failure|useless|incompetent|worthless|pathetic|fraud|impostor|imposter|lazy|moron|clueless|hopeless|weak|coward|disappointment|mess|burden|unlovable|boring|screw-up|screwup|dumb|fool|liability|joke|slob|selfish|pushover|doormat|wimp|klutz|wreck|fake)(?: i am)?`,
		vetted(notInImaginedView)),
	rule("labelling", 0.8, "bad terrible awful useless rubbish hopeless horrible",
		`(?:i am|i was|i feel like) {adv}(?:such |a |an )*(?:bad|terrible|awful|useless|rubbish|hopeless|horrible|lousy|crap|shit) (?:mother|mum|mom|father|dad|parent|friend|partner|wife|husband|manager|person|boss|leader|daughter|son|sister|brother|human being|colleague|employee)`,
		vetted(notInImaginedView)),
	rule("labelling", 0.75, "one",
		`i am the (?:dumb|stupid|weak|useless|slow|lazy|boring|difficult) one`),
	rule("labelling", 0.7, "enough",
		`i am {adv}not (?:smart|good|clever|strong|talented|pretty|brave|experienced) enough`, despiteNot, vetted(notInImaginedView)),
	rule("labelling", 0.65, "leader natural",
		`i am {adv}not (?:a |an )?(?:leader|natural|people person)`, despiteNot),
	rule("labelling", 0.85, "idiot lazy jerk moron bully freak selfish incompetent clueless useless toxic narcissist liar clown slob slacker backstabber queen know-it-all arrogant heartless amateurs amateur nightmare psycho snake hypocrite cow fool idiots useless",
		`{p} (?:is|are|was|were) {adv}(?:such |so |a |an |complete |total |absolute |real |bunch of |a bunch of |completely |totally |utterly |selfish |useless )*(?:idiot|idiots|lazy|jerk|moron|bully|control freak|selfish|incompetent|clueless|useless|toxic|narcissist|liar|clown|slob|slacker|backstabber|drama queen|know-it-all|arrogant|heartless|amateurs|amateur|nightmare to work with|psycho|snake|hypocrite|cow|fool)`),

	// Personalising: it is my fault, or about me, when much else played a part.
	rule("personalising", 0.85, "fault doing",
		`(?:it is|it was|it will be|that is|this is|it|its|all|that was|entirely|totally) (?:all |entirely |totally )?my (?:fault|doing)`),
	rule("personalising", 0.8, "me",
		`(?:(?:it|that|this|that one|this one) (?:is|was|will be)|its|all) (?:all |totally |entirely )?on me`,
		vetted(func(sn *sentence, first, last int) bool {
			return last+1 >= len(sn.toks) || sn.toks[last+1].w != "to"
		})),
	rule("personalising", 0.8, "because me reason cause why blame caused causing ruined responsible failing about",
		`because of (?:me|something i (?:said|did|wrote))|(?:i am|i was|i am the|i was the) (?:the )?(?:reason|cause|why)|i am why|i (?:am|was) to blame|i caused|i am causing|i ruined|feel responsible|i am failing (?:her|him|them|you)|it (?:was|is|must be|must have been) (?:all )?(?:about|because of) me`),
	rule("personalising", 0.8, "me",
		`, (it is me) \.|it is me who`),
	rule("personalising", 0.8, "let down",
		`i (?:let|have let|always let) (?:the |my |our |everyone|everybody|them|him|her|you)(?:{w} ){0,2}down`),
	rule("personalising", 0.75, "done said",
		`i must have (?:done|said) (?:something|it)`,
		vetted(func(sn *sentence, first, last int) bool { return !sn.has("feel") && !sn.has("felt") })),
	rule("personalising", 0.75, "made",
		`i made (?:everyone|everybody|him|her|them|the team|my (?:{w} )?{w}) (?:{w} )?(?:uncomfortable|upset|look bad|angry|sad|cry|stressed|miserable|awkward|nervous)`),
	rule("personalising", 0.75, "because",
		`because (?:i|i am|i was) (?:not|wasn't|was not|am not|did not|doing something wrong|(?:a|an) (?:bad|terrible|awful|anxious|useless|poor|lousy))|because of my (?:mistake|job|fault|behaviour|behavior|attitude|comment|email|message|error)|because i (?:work|am working|worked|travel|am away|was away) (?:too much|so much|too late|so late|all the time)`, despiteNot),
	rule("personalising", 0.7, "if",
		`if i (?:had|would have|had not|did not|was|were|would) (?:{w} ){1,4}(?:, )?(?:{w} ){1,5}(?:would not|would have|would be)`, despiteNot),

	// Overgeneralising: one moment becomes a rule.
	rule("overgeneralising", 0.85, "ever",
		`(?:nobody|no one|nothing|none of them) ever`),
	rule("overgeneralising", 0.75, "always alwyas allways never constantly forever time every whenever matter",
		`((?:always|alwyas|allways|never|constantly|every time|every single {w}|all the time|whenever|each time|no matter what)(?: {w})?)`,
		vetted(func(sn *sentence, first, last int) bool {
			if ruleSentence(sn) || (sn.toks[first].w == "never" && first > 0 && futureNever[sn.toks[first-1].w]) {
				return false // "I should always", "I'll never": a rule or a prediction
			}
			return gloomy(sn, first, last)
		})),
	rule("overgeneralising", 0.75, "everyone everybody nobody people no all",
		`(?:everyone|everybody|nobody|no one|people|all of them|they all)`,
		vetted(func(sn *sentence, first, last int) bool {
			if first > 0 && !subjectBefore[sn.toks[first-1].w] {
				return false // an object ("letting everyone down"), not who the rule is about
			}
			if last+1 < len(sn.toks) && sn.toks[last+1].w == "else" {
				return false // "no one else": a comparison
			}
			return gloomy(sn, first, last) && !(last+1 < len(sn.toks) && sn.toks[last+1].w == "said")
		})),
	rule("overgeneralising", 0.8, "happening again usual typical same life",
		`(?:keeps|keep) happening|again and again|as usual|typical|here we go again|same old|story of my life|(?:are|is) all the same`),
	rule("overgeneralising", 0.75, "every each",
		`(?:every|each) (?:single )?(?:project|relationship|meeting|job|time|one|day|thing|plan|conversation|idea) {g6}(?:goes wrong|falls apart|turns into|blows up|fails|ends|breaks)`),
	rule("overgeneralising", 0.7, "everything",
		`everything (?:i|we) (?:do|say|try|touch|make)`,
		vetted(func(sn *sentence, first, last int) bool { return !ruleSentence(sn) })),

	// Emotional reasoning: I feel it, so it must be true.
	rule("emotional-reasoning", 0.85, "feel feels felt feeling",
		`(?:i|it) (?:do not |{adv})?(?:feel|feels|felt|am feeling) (?:{w} |not ){0,7}(?:, )?(?:so|which means|that means|means|therefore|that proves|which proves|proves|it has to mean|it must mean|that i know|that it must|that i must)`, despiteNot,
		vetted(notPlanAfter)),
	rule("emotional-reasoning", 0.85, "feel feels felt",
		`(?:because|since|as|if) (?:i|it) (?:{adv})(?:feel|feels|felt) (?:{w} ){0,6}(?:, )?(?:{w} ){0,6}(?:must|obviously|clearly|definitely|has to|there must)`),
	rule("emotional-reasoning", 0.8, "feeling",
		`feeling (?:this|so) {w} (?:means|proves)`),
	rule("emotional-reasoning", 0.8, "anxious scared afraid angry nervous worried frightened terrified panicking dreading uneasy overwhelmed stressed tired upset sad guilty ashamed jealous",
		`i am (?:so |really |very )?(?:anxious|scared|afraid|angry|nervous|worried|frightened|terrified|panicking|dreading|uneasy|overwhelmed|stressed|tired|upset|sad|guilty|ashamed|jealous) (?:{w} ){0,4}(?:, )?(?:so (?:{w} ){0,3}(?:must|has to|obviously|clearly|definitely|is going to)|which means|it has to mean|that means)`,
		vetted(notPlanAfter)),
	rule("emotional-reasoning", 0.75, "bones gut",
		`in my (?:bones|gut)|my gut (?:says|tells me|is telling me)`),
	rule("emotional-reasoning", 0.7, "knots",
		`(?:stomach|gut|chest) (?:is |was )?in knots (?:, )?so`),

	// Disqualifying the positive: the good part does not count.
	rule("disqualifying-positive", 0.85, "anyone anybody any",
		`(?:anyone|anybody|any {w}|any {w} {w}) (?:could|would) (?:have|do that|do it|manage)`),
	rule("disqualifying-positive", 0.8, "but",
		`but {n6}(?:does not count|do not count|does not mean anything|did not mean anything|means nothing|meant nothing|not really|just being(?: nice| polite| kind)?|only being(?: nice| polite| kind)?|only because|just because|anyone|anybody|any parent|everyone|easy|biased|has to say|had to|have to say|soft|nothing|bare minimum|not me|not thanks to me|did not really do|only a|just saying|desperate|sorry for me|lucky|luck|fluke|accident|one-off|one off|generous|did not look|did not notice|did not check|just hungry|the real me)`, despiteNot),
	rule("disqualifying-positive", 0.8, "luck fluke accident lucky",
		`(?:just|only|pure|sheer|dumb|beginner's) luck|a fluke|got lucky|by accident|by chance`,
		vetted(func(sn *sentence, first, last int) bool {
			return sn.has("but") || sn.has("so") || sn.has("only") || sn.has("just") && sn.has("got") || sn.hasAny(achievements)
		})),
	rule("disqualifying-positive", 0.8, "saying nice polite kind",
		`(?:just|only) (?:saying|said) (?:that|it|so)|(?:was|were|is|are|being) (?:just |only |probably just )(?:being )?(?:nice|polite|kind)|to be (?:nice|polite|kind)`),
	rule("disqualifying-positive", 0.8, "because",
		`only because (?:she|he|they|@|it|nobody|no one|the|i)|(?:was|were|is|got|it) only because|only got {g3}because|because (?:they|he|she) (?:were|was) desperate|because (?:she|he|they) (?:felt|feel|feels) sorry for (?:me|us)`),
	rule("disqualifying-positive", 0.75, "count matter mean",
		`(?:does not|did not|do not) (?:really )?(?:count|mean anything|mean much|mean i am (?:good|smart|capable|any good))|(?:win|praise|compliment|review|award|promotion|result|success|it) (?:does not|did not) (?:really )?matter`, despiteNot),
	rule("disqualifying-positive", 0.75, "everyone",
		`(?:says|say|said|do|does|praise|praises|clap|claps|thank|thanks) (?:that )?(?:to |for )?everyone`),
	rule("disqualifying-positive", 0.7, "not",
		`, not (?:me|thanks to me|because of me) \.|down to (?:the team|them|others|luck)`, despiteNot),

	// Blaming: it is all someone else's doing.
	rule("blaming", 0.85, "fault",
		`(?:it is|it was|it|its|that is|this is|all) (?:all |entirely |totally )?(?:the |my |our )?(?:his|her|their|your|[a-z@]+'s|[a-z]+s|@) fault`),
	rule("blaming", 0.8, "made makes make forced force forces",
		`(?:{o}|you) {adv}(?:made|makes|make|forced|forces|force) (?:me|us) (?:feel|look|lose|so|this|miss|late|do|into|snap|angry|anxious|cry|shout|quit|leave|hate|sick|crazy|mad)`),
	rule("blaming", 0.75, "ruined ruins wrecked wrecks destroyed spoiled spoilt messed caused broke",
		`{o} {adv}(?:has |have )?(?:ruined|ruins|wrecked|wrecks|destroyed|spoiled|spoilt|messed up|caused|broke) (?:my|our|the|everything|it|this|us)|{o} messed (?:everything|it all) up`),
	rule("blaming", 0.75, "made makes make",
		`{o} (?:has |have )?(?:made|makes|make) (?:it|this|everything|life|my life|this place|our life) {adv}(?:so )?(?:impossible|hard|miserable|hell|difficult|complicated|a nightmare|worse)`),
	rule("blaming", 0.75, "one",
		`{o} (?:is|was|are|were) the one who`),
	rule("blaming", 0.75, "because",
		`because of (?:him|her|them|you|@)`),
	rule("blaming", 0.8, "reason cause blame responsible",
		`{o} (?:is|are|was|were) (?:the (?:reason|cause)|to blame|responsible for (?:how|my|this|the|everything))`),
	rule("blaming", 0.8, "if would",
		`if {o} (?:had|would|did|had just|would just|had not|did not) {g6}(?:, )?(?:i|we|none of this|it|this|things)(?: {w}){0,2} (?:would|might)|(?:i|we) would be (?:fine|okay|ok|happy|better) if {o}`, despiteNot),
	rule("blaming", 0.75, "put set left",
		`{o} (?:put|puts|set|sets|left|leaves) (?:me|us) (?:in an impossible|in this|up to fail|up|to clean)`),
	rule("blaming", 0.7, "ball mess down",
		`{o} (?:dropped the ball|messed up|screwed up|let (?:me|us) down|made a mess of) {g3}(?:and|so) (?:now )?(?:i|my|we|our)`),

	// Comparing: measuring myself against others and coming up short.
	rule("comparing", 0.85, "than",
		`(?:better|further|ahead|faster|smarter|cleverer|fitter|calmer|happier|richer|prettier|younger|stronger|quicker|more (?:{w} )?(?:confident|capable|successful|qualified|talented|organised|organized|popular|productive|likeable|together|clever|competent|accomplished|attractive|experienced)|earn more|earns more|earning more|doing better|twice (?:as|what)) {g3}than (?:me|i|mine|we)`, inQuestions),
	rule("comparing", 0.85, "as half",
		`(?:not|never|nowhere near|can not be|can i not be|why can not i be|will never be|not half) {g2}as (?:{w} )?(?:good|smart|clever|sharp|bright|brilliant|driven|disciplined|productive|confident|fast|successful|talented|organised|organized|calm|capable|fit|clean|strong|quick|funny|pretty|together|popular|happy|experienced) (?:{w} ){0,2}as|(?:twice|three times|much|so much|far) as {w} as (?:i|me)|not half the {w} (?:she|he|they|@)`, inQuestions, despiteNot),
	rule("comparing", 0.85, "compared",
		`compared (?:to|with) {g3}(?:, )?(?:i|my|me)`, inQuestions),
	rule("comparing", 0.75, "next",
		`next to (?:her|him|them|the others|everyone|@|my {w}) (?:, )?(?:i|my|me)`),
	rule("comparing", 0.8, "only weakest slowest worst least dumbest",
		`i am {adv}the (?:only one|only person|weakest|slowest|worst|least|dumbest)`),
	rule("comparing", 0.8, "else rest other",
		`(?:everyone else|everybody else|the rest of (?:the {w}|them|us|my {w})|other (?:people|parents|mums|moms|dads|teams|candidates|managers|kids|mothers)|every other {w}) {g4}(?:seem|seems|manage|manages|is|are|get|gets|had|have|has|ship|handle|always|so|were|earn|hit)`, inQuestions),
	rule("comparing", 0.7, "rubbish wild awkward barely still mess terrible useless nothing slow behind struggling invisible",
		`(?:she|he|they|@|my {w}|their {w}|her {w}|his {w}|the other {w}) {g4}(?:so|such|amazing|easy|together|polite|organised|organized|confident|brilliant|great|perfect|all have) {g3}(?:and|but|while|,) (?:i am|i|mine|me|my) {g2}(?:rubbish|wild|awkward|barely|still|a mess|terrible|useless|nothing|slow|behind|struggling|invisible)`, despiteNot),
	rule("comparing", 0.75, "behind",
		`(?:i am|we are) {adv}(?:falling |getting |fallen |left )?behind (?:all )?(?:my|everyone|everybody|the others|the rest|all|them|her|him|@)`),
	rule("comparing", 0.75, "except",
		`except (?:for )?me`),
	rule("comparing", 0.7, "before",
		`(?:promoted|picked|chosen|hired) before me`),
}

// achievements are the good things a "fluke" or "luck" can wave away.
var achievements = strings.Fields("promotion promoted win won result award grade job offer deal success raise bonus review score pass passed praise")

// peopleWords are the words that can head a {p} subject.
const peopleWords = "he she they @ boss bosses manager managers partner wife husband friend friends team teammate teammates colleague colleagues coworker coworkers co-worker co-workers client clients customer customers lead director ceo mum mom dad mother father parent parents sister brother kids children son daughter teacher teachers family interviewer interviewers in-laws ex flatmate landlord reviewer reviewers others hire staff designer developer teenager neighbour neighbor leader leaders adult adults men women employees management finance hr sales everyone people guys engineers developers designers nurses doctors teachers students bosses colleagues kids"

// people are peopleWords as a set.
var people = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(peopleWords) {
		m[w] = true
	}
	return m
}()

// subjectIs makes a rule that starts at its verb look back for the verb's subject: past
// adverbs and auxiliaries ("really", "must", "are going to"), the subject's head word must
// pass ok (given the word before it, for "the client"). The subject is then shown as part of
// the reason: "My manager thinks".
func subjectIs(ok func(w, before string) bool) ruleOpt {
	return func(r *trapRule) {
		r.subject = func(sn *sentence, first int) (int, bool) {
			j := first - 1
			for j >= 0 && auxiliary[sn.toks[j].w] {
				j--
			}
			if j < 0 {
				return 0, false
			}
			before := ""
			if j > 0 {
				before = sn.toks[j-1].w
			}
			if !ok(sn.toks[j].w, before) {
				return 0, false
			}
			if determiner[before] {
				j--
			}
			if j >= 2 && preposition[sn.toks[j-1].w] && (people[sn.toks[j-2].w] || sn.toks[j-2].w == "everyone") {
				j -= 2 // "everyone on the call thought"
			}
			if j > 0 && causative[sn.toks[j-1].w] {
				return 0, false // "let my partner know I'll be late": not their mind but my plan
			}
			return j, true
		}
	}
}

// auxiliary are the words between a subject and its verb: "she must really think".
var auxiliary = map[string]bool{
	"really": true, "just": true, "all": true, "also": true, "both": true, "still": true, "always": true,
	"never": true, "honestly": true, "must": true, "will": true, "would": true, "might": true, "may": true,
	"probably": true, "obviously": true, "clearly": true, "definitely": true, "secretly": true, "already": true,
	"are": true, "is": true, "going": true, "to": true, "has": true, "have": true, "had": true, "surely": true,
	"totally": true, "now": true, "actually": true, "genuinely": true, "truly": true, "can": true,
}

// preposition are the words that tie a group to its subject: "everyone on the team".
var preposition = map[string]bool{"on": true, "in": true, "at": true, "from": true, "of": true}

// causative are the verbs that make a subject's verb a plan of mine.
var causative = map[string]bool{"let": true, "make": true, "help": true, "have": true, "get": true}

// determiner are the words that open a noun phrase: "the client", "my boss".
var determiner = map[string]bool{"my": true, "the": true, "our": true, "his": true, "her": true, "their": true, "your": true}

// otherPerson reports whether w, after before, names someone other than the speaker: a
// pronoun, a name, a person word, or any noun after "my", "the", "our".
func otherPerson(w, before string) bool {
	switch w {
	case "i", "we", "you", "it", "this", "that", "there", "what":
		return false
	}
	return people[w] || determiner[before] || w == "everyone" || w == "everybody" || w == "people"
}

// notMine vets a prediction: when its subject is "I" or "we" ("I'm going to say no"), it is a
// plan, which the I-rules read separately.
func notMine(sn *sentence, first, last int) bool {
	for j := first - 1; j >= 0 && j >= first-3; j-- {
		switch sn.toks[j].w {
		case "i", "we":
			return false
		case "am", "are", "is", "will", "really", "just", "probably", "definitely", "also", "both", "all":
			continue
		}
		return true
	}
	return true
}

// notInImaginedView vets a label: inside someone else's imagined view of me ("they think I'm
// lazy") the label is theirs, and the trap is mind reading.
func notInImaginedView(sn *sentence, first, last int) bool {
	for j := first - 1; j >= 0 && j >= first-3; j-- {
		switch sn.toks[j].w {
		case "think", "thinks", "believe", "believes", "know", "knows", "see", "sees", "that", "decided", "as":
			return false
		}
	}
	return true
}

// reported reports whether token i is in someone else's reported words ("the customer said
// the product is a disaster"): that is what they said, not the user's story.
func reported(sn *sentence, i int) bool {
	for j := i - 1; j >= 0; j-- {
		switch sn.toks[j].w {
		case "said", "says", "told", "wrote", "called", "asked":
			return true
		case ",":
			return false
		}
	}
	return false
}

// joking reports whether a sentence laughs at itself ("the film was a disaster, ha").
func joking(sn *sentence) bool {
	return sn.has("ha") || sn.has("haha") || sn.has("lol") || sn.has("lmao")
}

// gloomyWords make an "always", "never" or "everyone" a rule about how badly things go,
// rather than a habit ("I always take the train").
var gloomyWords = map[string]bool{
	"ignore": true, "ignores": true, "ignored": true, "listen": true, "listens": true, "help": true, "helps": true,
	"care": true, "cares": true, "appreciate": true, "appreciates": true, "mess": true, "wrong": true, "blame": true, "blamed": true,
	"late": true, "complain": true, "complains": true, "criticise": true, "criticises": true, "criticize": true,
	"criticizes": true, "picked": true, "right": true, "stuck": true, "finish": true, "finishes": true,
	"advantage": true, "credit": true, "returns": true, "return": true, "leave": true,
	"leaves": true, "works": true, "happen": true, "happens": true, "rejected": true, "forget": true, "forgets": true,
	"last": true, "boring": true, "shot": true, "against": true, "answered": true, "answers": true, "fail": true,
	"fails": true, "screw": true, "interrupt": true, "interrupts": true, "ruin": true, "ruins": true, "argument": true,
	"apart": true, "blows": true, "bad": true, "worst": true, "hate": true, "hates": true, "lose": true,
	"disappoint": true, "disappoints": true, "freeze": true, "froze": true, "panic": true, "cancel": true, "cancels": true, "overlooked": true, "struggle": true,
	"messes": true, "no": true, "wins": true, "win": true,
	"left": true, "alone": true, "understand": true, "understands": true, "respect": true, "respects": true, "notice": true,
	"notices": true, "thanks": true, "thank": true,
}

// subjectBefore are the words that may come just before a subject: "everyone" after them is
// who a clause is about.
var subjectBefore = map[string]bool{",": true, ".": true, "?": true, "and": true, "because": true, "so": true,
	"but": true, "that": true, "when": true, "if": true, "why": true, "here": true, "like": true, "as": true,
	"since": true, "cause": true, "then": true, "now": true, "just": true, "q": true}

// clauseJoin are the words that join two clauses.
var clauseJoin = map[string]bool{"and": true, "but": true, "so": true, "because": true}

// futureNever are the words before a "never" that make it a prediction.
var futureNever = map[string]bool{"will": true, "would": true, "to": true, "am": true, "are": true, "is": true}

// gloomy reports whether the words around tokens first..last — back to the start of their
// clause, on to the end of the sentence or a "but" or "so" — say things go badly, about me
// or in general.
func gloomy(sn *sentence, first, last int) bool {
	if first > 0 && sn.toks[first-1].w == "not" {
		return false
	}
	start, end := first, last
	for start > 0 && isWord(sn.toks[start-1].w) && !clauseJoin[sn.toks[start-1].w] {
		start--
	}
	for end+1 < len(sn.toks) && sn.toks[end+1].w != "but" && sn.toks[end+1].w != "so" {
		end++
	}
	for i, t := range sn.toks[start : end+1] {
		if gloomyWords[t.w] {
			return true
		}
		if (t.w == "like" || t.w == "likes") && start+i+1 < len(sn.toks) && sn.toks[start+i+1].w == "me" {
			return true // "never like me"
		}
		if t.w == "ask" && start+i > 0 && sn.toks[start+i-1].w == "i" {
			return true // "never do what I ask"
		}
	}
	return false
}

// epistemic are the verbs after "must not" that make it a conclusion ("I must not matter").
var epistemic = map[string]bool{"be": true, "matter": true, "have": true, "like": true, "care": true, "want": true, "know": true, "count": true}

// hypothetical are the words that make a clause a supposition rather than a belief.
var hypothetical = map[string]bool{"if": true, "whether": true, "unless": true, "in case": true}

// concludes are the words before "I must" that make it a conclusion: "so I must not belong".
var concludes = map[string]bool{"so": true, "then": true, "means": true, "therefore": true, "which": true, "proves": true}

// ruleSentence reports whether a sentence states a rule (should, ought, must): its "always"
// and "everything" belong to the rule, not to a separate generalisation.
func ruleSentence(sn *sentence) bool {
	return sn.has("should") || sn.has("ought") || sn.has("must") || sn.has("shouldve")
}
