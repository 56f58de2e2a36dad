"""The word families behind :mod:`handlers.intents`, in Chinese and English.

Each family is a list of regular expressions over *folded* text (NFKC, lower case, English
contractions spelled out: "won't" is "will not", "i'm" is "i am"), so full-width letters and
punctuation need no patterns of their own. Patterns describe how workers say a thing, not the
sentences of any test file: a new way of saying it is one more alternative in its family.

Danger families are split by what may cancel them (see ``intents._danger_hits``):

- HELP, THREAT and SELF_HARM stand on their own (a threat is conditional by nature: "if you tell
  anyone I will kill you");
- ACT (violence, confinement, being followed or waited for, someone at the door) is cancelled by
  a negation, a past-time word in its clause ("以前", "last year", "V过"), or a hypothetical
  question ("如果有人跟踪我怎么办");
- FEAR is cancelled, in addition, when what she fears is a consequence ("怕被报复", "afraid my
  supervisor will find out"): that is a question about retaliation, not danger now.
"""

from __future__ import annotations

import re


def _any(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


# --- danger ------------------------------------------------------------------------------------

_HARASSER = (
    r"他|她|那人|那个人|那个男的|那个男人|那男的|那个家伙|有人|有个人|有个男的|一个男的|陌生人|"
    r"组长|线长|拉长|班长|主管|经理|领导|老板|主任"
)
_NEAR = (
    r"门口|门外|楼下|外面|窗外|窗户外面?|阳台|旁边|附近|身边|后面|房间|宿舍|寝室|床边|屋里|房里|厕所|走廊|楼道|楼梯|"
    r"车里|车上"
)
_JOB = r"开除|滚蛋|辞退|炒|加班|奖金|转正|工资|扣钱|调岗|升职|合同|陪|吃饭|约会|考核|排班"
_JOB_EN = r"fire|fired|firing|dismiss\w*|sack\w*|job|overtime|bonus|contract|promotion|pay|salary|shifts?|date"
_EN_SOMEONE = (
    r"he|she|they|someone|somebody|a man|a guy|the man|the guy|that man|that guy|this man|this guy|"
    r"my (?:supervisor|boss|manager|leader|line leader|team leader|foreman)"
)

SOS = re.compile(
    r"救命|救救我|救我|求救|求求你们?救|快来人|来人啊|(?:快|帮我|帮忙|马上|赶紧)报警|^\W*报警|\bsos\b|"
    r"\b(?:can|could|will|would|please) (?:you |someone |somebody |anyone )?(?:help me )?call (?:the )?police\b|"
    r"\bcall (?:the )?police (?:now|please|for me)\b|\bcall (?:the )?police\s*[!.]*\s*$|\bcall 110\b"
)
"""Cries for help that stand even inside a question ("谁能来救救我")."""
HELP = _any(
    SOS.pattern,
    r"(?:快|帮我|马上|赶紧|我要|我想|我得)报警|救救(?:她|他|我朋友|我室友)|快去救",
    r"\bplease help (?:her|him|my friend|my roommate|them)\b|\bhelp (?:her|him|them) (?:now|please|quick\w*)\b",
    r"\bhelp me\b(?!\s+(?:to|with|report|understand|find|know|check|make|file|get|ask|learn|see|write|contact))",
    r"^\s*help\s*!|\bplease help\s*(?:!|$)|^\s*help\s*[!.]*$",
    r"\b(?:urgent|emergency) help\b|\bhelp needed\b|^\W*please help\b(?!\s+(?:me )?(?:to|with|understand|find|know|"
    r"check|make|file|get|ask|learn|see|write|contact))",
    r"\bcall (?:the )?police\b|\bcall 110\b|\bneed help\b(?!\s+(?:with|to|understand|finding))|需要帮助|帮帮我",
)


THREAT = _any(
    r"[打弄整搞砍捅杀掐勒]死我|杀了我|要杀我|弄残我?|打残|要我的?命|让我死|不会放过我|饶不了我",
    r"[让给要]我好看|说要报复我|找人(?:来)?(?:收拾|教训|打|揍|砍)(?:我|你)|找人(?:来)?[弄搞](?:死|残|废)(?:我|你)|"
    r"(?:收拾|教训)(?:我|你)(?!们?(?:的)?(?:东西|房间|宿舍|"
    r"工位|行李))|"
    r"[弄搞](?:死|残|废)(?:我|你)",
    r"知道(?:我|你)的?(?:女儿|儿子|孩子|小孩|家人|爸妈|父母|老公|老家|家|妹妹|弟弟|姐姐|哥哥)(?:在|住)",
    r"找(?:我|你)?的?(?:爸妈|父母|家人|家里人?|老家)(?:的)?麻烦|找人.{0,10}(?:找(?:我|你)(?:的)?麻烦|(?:跟|和)(?:我|"
    r"你)算账)",
    r"(?:让|叫)(?:我|你)(?:出|有)(?:个|点)?(?:事|意外)",
    rf"(?:威胁|恐吓|要挟|扬言)(?!.{{0,12}}(?:{_JOB}))",
    r"敢.{0,6}(?:说|告诉|讲).{0,8}就|说出去就|告诉别人就|说.{0,4}敢.{0,6}(?:告诉|说出去|讲出去|举报|报警|投诉)",
    r"(?:照片|视频|裸照).{0,6}(?:发出去|发到网上|传到网上|公开|曝光)|曝光我|"
    r"(?:就|要|会|说要)把?(?:我的?)?(?:照片|视频|裸照|聊天记录).{0,12}(?:发到|发给|传到|发出去|公开)|"
    r"不(?:给|转|打)(?:我|他)?.{0,6}(?:块|万)(?:钱)?.{0,3}就(?:把|发|曝光|公开)",
    rf"\bthreat\w*(?!.{{0,40}}\b(?:{_JOB_EN}))",
    r"\b(?:will|would|going to|gonna|wants? to|trying to|try to|threaten\w* to)\s+(?:\w+\s+){0,2}?"
    r"(?:(?:kill|hurt|beat|rape|harm|stab|attack)\s+(?:me|you|my|your|her)|(?:get|ruin|punish|find|come for)\s+(?:me|"
    r"you))\b"
    r"(?!\s+(?:job|contract|salary|pay|bonus|shifts?|overtime|promotion|career|review))",
    r"\bmake\W+(?:me|you)\W+(?:have\W+|get\W+)?(?:an?\W+)?accident\b|\bmake\W+(?:an?\W+)?accident\W+for (?:me|you)\b|"
    r"\bhurt (?:my|your) (?:family|parents|mother|mom|kids?|children|daughter|son|sister|brother)\b|"
    r"\b(?:you|i) (?:will|would|gonna|are going to|am going to) (?:have|get) an? accident\b",
    r"\bif (?:i|you|she) (?:say|tell|report|speak|talk|complain)\w*\b.{0,40}\b(?:he|she|they) (?:will|would|"
    r"is going to|"
    r"gonna) (?!not\b)(?:\w+ ){0,2}?(?:kill|hurt|beat|harm|rape|stab|attack|make|do|find|get|ruin|burn|break)\b",
    r"\bif (?:i|you) (?:do )?not (?:send|pay|give|transfer)\b.{0,40}"
    r"\b(?:post|share|send|video|photo|pictures?)",
    r"\byou(?: are)? dead\b|\byou will die\b|你死定了|你等着瞧|\bpay (?:him|them|me)\b.{0,20}\bor\b.{0,20}\bpost\w*|"
    r"\bor (?:he|they) (?:will )?(?:post|share|send|leak)\w* (?:them|it|the|my)\b|"
    r"\bkill (?:me|you)\b|\bknows? where i (?:sleep|live|stay)\b|\bknows? my (?:address|room number)\b",
    r"\b(?:will|going to|gonna|threaten\w* to)\s+(?:post|share|leak|send|spread)\s+(?:my|the|your)\s+"
    r"(?:photos?|pictures?|pics|videos?|nudes)",
)

SELF_HARM = _any(
    r"想死|不[想愿]再?活|活不下去|活着(?:没|没有)(?:意思|意义)|活着太(?:累|苦|难)|[撑熬挺]不下去|自杀|轻生|寻死|自残",
    r"跳楼|跳河|跳下去|割腕|割了?(?:手腕|自己|手臂)|划(?:了)?(?:手腕|自己)|安眠药|农药|结束(?:自己的?)?生命|了结自己|"
    r"死了算了|"
    r"不如死了|一死了之|一了百了|伤害自己|(?:药|绳子|炭)(?:都|也|已经)?(?:买|准备|备)好了?|遗书|"
    r"不打算活|活够了|不活了|药我?(?:都|也|已经)?(?:买|准备|备)好了?|熬不下去|不想再(?:这样)?熬|累赘|"
    r"没有我(?:可能)?(?:会)?(?:过得)?更好|想往下(?:跳|翻)|往下一(?:跳|翻)|被车撞(?:了|"
    r"死)?(?:也)?(?:挺|倒|还)?好|撞死算了|"
    r"(?:遗|绝笔)信(?:已经|都)?写好了|信(?:已经|都)?写好了.{0,6}(?:放在|留在|压在)|(?:不想|不要)再?给(?:大家|你们|家里|"
    r"家人|别人)添麻烦|离开这个世界|从这个世界消失|永远消失|"
    r"不想醒来|不想再醒|活着(?:还)?有什么意思|叫不醒|没有?(?:了)?呼吸|"
    r"昏(?:过去|迷)",
    r"[吃吞喝]了?(?:一|半|整|好几)?(?:整)?(?:瓶|把|堆|大把|板)(?:的)?(?:安眠)?药|刀片.{0,6}(?:划|割)|划(?:了|"
    r"伤)?(?:手腕|自己)|"
    r"血.{0,4}(?:停不下来|止不住)|止不住(?:血|地流)|不会再(?:麻烦|拖累)(?:任何人|大家|你们|别人)|"
    r"把(?:我的)?东西都?(?:送|分)给|喝了?(?:农药|消毒水|漂白水|84|洗洁精|老鼠药)|吞了?(?:老鼠药|刀片|药)|"
    r"[吃吞]了(?:很多|好多|一堆)药",
    r"\bkill(?:ing)? myself\b|\bend(?:ing)? (?:my|it) (?:own )?(?:life|all)\b|\btake my (?:own )?life\b|\bsuicid\w*",
    r"\b(?:want|wanted|wanna) (?:to )?die\b|\bnot want to (?:live|be alive|be here)\b|\bbetter off dead\b",
    r"\b(?:hurt|cut|harm)(?:ing)? myself\b|\bno reason to live\b|\bcan ?not go on\b|\bjump off\b|\boverdose\b",
    r"\btired of (?:living|life|being alive)\b|\bcan ?not take (?:it|this) any ?more\b",
    r"\bdisappear (?:forever|for good|from (?:this|the) world)\b|\bsuicide note\b|\bgoodbye (?:letter|note)\b|"
    r"\b(?:wrote|written|write|writing|left) (?:a |my )?last (?:letter|note) (?:to|for) my (?:mother|mom|mum|"
    r"family|"
    r"parents|father|husband|children|kids|daughter|son)\b|\bno (?:point|reason) (?:in |to )?(?:living|live|go on)\b|"
    r"\bnot (?:want|wanting) to wake up\b|\b(?:and|to) (?:never|not) wake up\b|\bcan ?not do this any ?more\b|"
    r"\b(?:better|happier|better off) without me\b|\bbetter off if i (?:just )?(?:disappear\w*|die\w*|was gone|"
    r"were gone)\b|"
    r"\bcutting myself\b|\bwrote (?:a )?letters? (?:for|to) (?:them|my family|everyone)\b|"
    r"\b(?:many|lots of|a lot of|so many) pills\b.{0,40}\b(?:take|swallow)|\btake (?:them )?all\b.{0,30}\bpain\b|"
    r"\btired of everything\b|\bcut(?:ting|s)? my (?:arm|wrist|leg|skin)s?\b|\bcan ?not stop the blood(?:ing)?\b|"
    r"\bgave away (?:all )?my (?:things|stuff|belongings|clothes)\b|\bwill not need (?:them|it|anything) (?:after|"
    r"any ?more)\b|"
    r"\b(?:drink|drank|drinks|drunk|swallow\w*) (?:the |some )?(?:bleach|poison|pesticide)\b|\bi (?:want to|will|"
    r"am going to|am gonna) end (?:it|everything)(?: all)?\s*$|"
    r"\b(?:want|wanna|wish i could) (?:to )?sleep forever\b",
    r"\b(?:took|taken|swallowed|drank) (?:a lot of|many|too many|lots of|so many|all (?:the|her|his|my)|a bottle of|"
    r"the whole) (?:pills|tablets|medicine|sleeping pills|poison)|\b(?:will|would|can|does) not wake up\b|"
    r"\bjump(?:s|ed|ing)? (?:from|off) (?:the )?(?:roof|building|bridge|window|top)\b|"
    r"\b(?:going to|will|wants? to|gonna|said she would|said he would) jump\b",
)

ACT = _any(
    # followed, chased, waited for, watched
    r"跟着我|跟踪(?!进度|处理|案件|结果|一下)|尾随|一路跟|跟到|跟过来|跟来了|追着我|在(?:我)?后面跟|"
    r"跟在我?(?:后面|身后)",
    r"在.{0,10}等我|等着我|守着我|守在|蹲我|蹲守|堵我|堵着我|堵在|拦着|拦住我|截住我",
    rf"在(?:{_NEAR}).{{0,2}}(?:不走|站着|守着|等着|徘徊|转悠|盯着)",
    rf"(?:守着|蹲着|堵着|等着|站着)在?.{{0,4}}(?:{_NEAR})",
    rf"(?:{_HARASSER})(?:现在|还|又|一直|就|正)+在(?:我们?)?的?(?:宿舍|寝室|房间)?(?:{_NEAR})",
    rf"(?:{_HARASSER})(?:说)?(?:已经)?在(?:来的?)?路上",
    r"(?:要|会|说要|今晚|晚上)+(?:过|进)?来我们?的?(?:房间|宿舍|寝室|家|屋|房|出租屋|出租房|住的地方|"
    r"住处)(?!.{0,6}(?:检查|查房|卫生|维修|修|打扫|开会|点名))",
    r"(?:开|带|拉|骗|叫)(?:我)?到.{0,4}(?:没人|偏僻|荒|小树林|野外)|没人的地方|车上(?:就|只有)我一个",
    rf"(?:就在|还在|又在).{{0,4}}(?:{_NEAR})|(?:就|还|又|正|一直)(?:坐|站|躺|蹲|守|等|躲)在.{{0,4}}(?:{_NEAR})",
    rf"(?:{_HARASSER})(?:现在)?又在那(?:里|儿)?了?|(?:现在|此刻)(?:又|还)?在那(?:里|儿)?(?:了|等|坐|站|守|盯)",
    rf"(?:{_HARASSER})(?:说|还说|又说)?(?:今晚|今天晚上|晚上|等下|待会儿?|一会儿?)(?:就|要|会)?(?:过来|来找我|上门)"
    r"(?!.{0,8}(?:检查|查房|卫生|维修|修|打扫|开会|点名))",
    r"(?:里面|屋里|房间里|办公室里|门里)(?:有|传来|传出).{0,4}(?:哭|尖叫|喊|呼救)|听到.{0,8}(?:哭声|尖叫|喊救命|呼救|"
    r"喊叫)",
    r"\b(?:hear|heard|hearing) (?:her |someone |a woman |a girl |him )?(?:crying|screaming|scream|shouting for help)\b",
    r"往(?:郊区|野外|山里|没人的地方)开|叫他停他?不停|不(?:肯)?停车|(?:今晚|现在)(?:一定)?要我(?:下去|出去|过去|开门)|"
    r"在.{0,6}楼下(?:喊|叫)我|"
    r"只有我(?:跟|和)他|把门关上|拧.{0,4}门把手|推开.{0,8}门进来|(?:现在|他)还没走|"
    r"等着瞧|不.{0,8}就(?:把(?:它|视频|照片))?(?:发到|发给|传到|发出去|公开)|"
    r"\bpulling (?:my|me)\b|\bget in(?:to)? his car\b|\bknows? (?:which|where) (?:school|my (?:kids|children|daughter|"
    r"son|family))\b|"
    r"\bbetter keep quiet\b|\bkeep (?:your|my) mouth shut\b|\bcornered me\b|\b(?:come|came|coming) in now\b|"
    r"\bby my bed\b|"
    r"捂住?我的?嘴|抓住?我的?(?:手腕|胳膊|头发)|把我(?:塞|推|拉|拖)(?:进|上)|"
    r"(?<!keeps )(?<!keep )\b(?:grab\w*|hold\w*) my (?:wrist|arm|hair|neck)\b|"
    r"\bhand (?:on|over) my mouth\b|\bforc\w* me (?:into|to get in)\b|"
    r"装了?定位|(?:我|他说)?看到你了|\btrack\w* (?:me|my phone)\b|\bi (?:can )?see you\b|"
    r"(?:趴|蹲|站|躲)在(?:我们?的?)?(?:窗外|窗户外面?|门外|门口|楼下)|(?:刚刚|刚才|现在)又出现了?|"
    r"\btexted me (?:for )?help\b|\bsent me (?:a )?(?:help|sos)\b|\b(?:took|dragged|pulled) her into\b|"
    r"下了?药|被下药|(?:饮料|酒|水).{0,10}(?:头晕|发晕|没力气|腿软|浑身没劲)|扶我(?:去|到).{0,6}(?:房间|宾馆|酒店|"
    r"楼上)|"
    r"(?:叫|让|要)我.{0,8}(?:去|到)(?:他的?)?.{0,4}(?:房间|宾馆|酒店)(?!.{0,4}(?:吃饭|开会|培训|聚餐|上班))|开房",
    r"就剩(?:我们俩|我们两个|我和他)|就剩我(?:跟|和)(?:一个|那个)?(?:男的|男人|他)|"
    r"(?:今晚|晚上|半夜|深夜).{0,6}去.{0,8}(?:宾馆|酒店|旅馆|\d{3,4})(?!.{0,4}(?:吃饭|开会|培训|聚餐|上班|教室|会议|"
    r"车间|点))|"
    r"只剩(?:我们俩|我和他)|(?:正)?朝我(?:这边)?(?:走|过来)|(?:他|那人|那个人)把灯(?:关|灭)|"
    r"又跟(?:着)?我上了?.{0,4}(?:车|公交|地铁)|"
    r"(?:就|现在|正)坐(?:在)?我(?:后面|旁边|对面|身后)",
    r"\b(?:drugged|spiked)\b|\bsomething in my drink\b|\bdizzy\b.{0,40}\b(?:hotel|room|car)\b|"
    r"\bbring (?:me|her) to (?:a |the |his )?hotel\b|\bnot stop(?:ping)? the car\b|"
    r"\bpass(?:ed)? my (?:dorm|house|home|stop)\b|"
    r"\b(?:come|go) to (?:room \d+|his room|the hotel|a hotel|my room)\b"
    r"(?=.{0,24}\b(?:tonight|now|alone|at night|after (?:work|shift)))|"
    r"\bonly (?:me|us),? (?:and )?(?:him|he|them)\b|"
    r"\bwait (?:until|till|for) (?:i|me) (?:come|go|get) out\b",
    rf"(?:{_HARASSER})在我?们?的?(?:宿舍|房间|寝室|厂|家|车间)?(?:门口|门外|楼下|窗外|窗户外面?|窗边|外面|楼道|走廊)|"
    rf"(?:{_HARASSER})又来",
    r"(?:又|还|要|说要|正|就|会)(?:过|上)?来.{0,6}找我|知道我住|知道我(?:家|宿舍|寝室)在|查到我(?:住|家)|找上门|"
    r"找到我(?:宿舍|家|房间)|躲在|躲起来|藏在|躲着他",
    # the door, breaking in
    r"[敲砸踹撬撞拍踢捶].{0,6}[门窗锁]|闯进|冲进|闯入|硬闯|翻进|爬进|溜进|摸进|(?:半夜|深夜|晚上|偷偷).{0,8}拿钥匙开|"
    r"[要想]进来|"
    r"进了?我们?的?(?:房间|宿舍|屋|房)|半夜.{0,6}进",
    r"反锁|锁上门|锁了门|把门锁|关上门不|车门(?:被)?锁(?:了|住|上)|门被(?:他|人)?锁(?:了|住|上)|锁了车门",
    rf"(?:{_HARASSER}|在.{{0,6}}(?:{_NEAR})).{{0,8}}(?:一直|还|就是|死活)?(?:不肯?走|不离开|赖着不走)",
    # held, shut in
    r"不让我(?:走|出|离开|回|下班|跑|下车)|不放我(?:走|出)|把我(?:锁|关|困|堵|拉进|拖进|推进|按)|"
    r"锁在|关在|困在|被困|被锁|被关|出不去|走不了|跑不掉|逃不掉|逃不出|脱不了身|拉进|拖进",
    # violence
    rf"打我(?!电话|手机|的电话)|打了我|被(?:人|{_HARASSER})?(?:打|揍|强奸|强暴|性侵|掐|绑|拖|推倒|砍|捅)|推了我|"
    rf"踢了我|掐了我|揍我|扇我|扇了我|踢我|掐我|掐着|掐住|勒我|勒住|"
    rf"推我|把我推|推倒|"
    r"按住我|按着我|压着我|压在|拽我|拽着我|扯我|抓住我|抓着我|拖我|把我拖|强奸|强暴|性侵|侵犯我|"
    r"脱我|扒我|绑|捂住我|捂我|拿着?刀|带着?刀|有刀|持刀|动刀|锁住我|有人在我?的?(?:房间|宿舍|寝室|屋)里|(?:房间|宿舍|"
    r"寝室|屋)里有人|现在又来了|又来找我|受伤|流血|出血|打伤|殴打|施暴",
    r"(?:有|很|好|非常)?危险(?![吗么])|不安全",
    r"吓得|发抖|浑身抖|(?:一直|还在|不停地?)(?:在)?抖|抖个不停|不敢(?:回|出|下班|一个人|睡|走|出门|开门|动|出声)|"
    r"\b(?:still )?(?:shaking|trembling)\b",
    r"\b(?:follow|stalk|chas|tail)\w*\s+(?:me|us)\b|\bbeing (?:followed|stalked|watched)\b",
    r"\bwait(?:s|ed|ing)?\s+(?:for me|me|outside|at my|near my|by my|downstairs|in front)",
    r"\b(?:has|have|with|holding|got) a (?:knife|gun|weapon)\b",
    r"\b(?:outside|at|near|in front of)\s+(?:my|our)\s+(?:door|room|dorm\w*|window|house|home|place|bed)",
    rf"\b(?:{_EN_SOMEONE})\s+(?:is|are)\s+(?:still\s+)?(?:here|nearby|near me|next to me|behind me|outside|"
    rf"downstairs|at (?:my|the) door|in my room|waiting|there|out there)|\b(?:{_EN_SOMEONE})\s+(?:is|"
    rf"are)\s+(?:still\s+)?"
    r"(?:standing|sitting|waiting|staring)\s+(?:at|by|near|outside|next to|behind|in front of)\s+(?:my|me|our|the)?",
    r"\b(?:bang|pound|knock|kick|break|forc|smash|hit|punch|beat)\w*\s+(?:on\s+|down\s+|in\s+|at\s+)?(?:my|our|"
    r"the)\s+(?!door button)"
    r"(?:door|window)",
    r"\btr(?:y|ying|ies|ied) (?:to )?(?:open|get into|break into|come into|get in)\b",
    r"\b(?:try|trying|tries|tried|rattl\w*|jiggl\w*|turn\w*) (?:the |my |our )?(?:\w+ )?(?:door ?)?(?:handle|knob|"
    r"lock)\b",
    r"\b(?:will|would|does|do|did|is|are|can) not (?:leave|go away)\b|\brefus\w* to leave\b",
    r"\b(?:will|would|does|do|did|is|are|can) not let (?:me|go)\b|\bnot letting (?:me|go)\b|\blet me out\b|"
    r"\bnot let(?:ting)? (?:me|her|us|them)\b|\b(?:me|her|us) go out\b",
    r"\bgrab\w* (?:my|me by the) (?:hair|neck|throat)|\b(?:broke|break|breaking|broken) into (?:my|our)\b",
    r"\b(?:he|she|they|someone|somebody|the (?:\w+ )?(?:supervisor|leader|manager|boss|guard|man|guy|driver)|my \w+) "
    r"lock(?:s|ed)? me\b|\b(?:i am|we are) hiding (?:under|behind)\b|\b(?:i am|we are) under the bed\b(?!\s+\w+ing)|"
    r"\block(?:s|ed|ing)? me\b|\b(?:locked|trapped|stuck) in\b|\bcan ?not get out\b|\block\w*\b.{0,40}\b(?:me|"
    r"us) (?:in|inside)\b",
    r"\bblock(?:s|ed|ing)? (?:the|my) (?:door|way|exit)|\bpinn?(?:ed|ing)? me\b|\bhold(?:s|ing)? me down\b",
    r"\b(?:hit|hitting|hits|beat|beating|beats|punch\w*|slap\w*|kick\w*|chok\w*|strangl\w*|push\w*|shov\w*|"
    r"drag\w*|attack\w*|assault\w*|stab\w*|hurt\w*|grab\w*|rap(?:e|ed|es|ing))\s+me\b",
    r"被人?强迫|强迫我|被.{0,3}侵犯|\b(?:injured|bleeding)\b|\bi am hurt\b",
    r"\brap(?:ed|ing)\b|\btried to rape\b|\bhid(?:e|ing) (?:from|in|under|behind)\b|\bhiding\b",
    r"\b(?:was|got|been|being) (?:attacked|assaulted|raped|beaten|beaten up|hit|hurt|stabbed|grabbed|followed|stalked|"
    r"kidnapped|choked|strangled|locked in|trapped)\b",
    r"\b(?:come|coming|came) (?:to|into|over to) (?:my|our) (?:room|dorm\w*|house|home|place|bed)\b|\bcome for me\b",
    rf"\b(?:{_EN_SOMEONE}|there is (?:a|some) (?:man|guy|person|stranger))\s+(?:is\s+)?(?:in|inside) (?:my|our) "
    r"(?:room|dorm\w*|house|bed)",
    r"\bin danger\b|\bnot safe\b|\bunsafe\b",
)

ACROSS_CLAUSES = _any(
    r"(?:还|一直)?没(?:有)?回来.{0,20}(?:电话|手机|微信).{0,6}(?:没人接|打不通|关机|不回)",
    r"\block\w* (?:the|my|our|a|this|me in the) (?:\w+ ){0,2}(?:door|room)\b.{0,40}\b(?:i am|me|we are|"
    r"she is) (?:still )?"
    r"(?:inside|in here|in there|in)\b",
    r"(?:把|将)?(?:门|房门)(?:反)?锁(?:上|了|住).{0,12}我(?:还)?在(?:里面|里头)",
    r"\b(?:not|never|did not|has not|have not|still not) (?:come|came|been|coming) back\b.{0,40}\bphone\b(?: is)? "
    r"(?:off|dead|not answer\w*|no answer)",
)
"""Danger told across clauses, read over the whole message: someone who went off with him and is gone and
unreachable ("室友被拉长叫去办公室…还没回来，电话一直没人接"), a door locked with her inside ("he lock the
store room door, i am inside")."""

FEAR = _any(
    r"(?<![恐哪可])(?:好|很|太|真|非常|特别|超级?|有点|真的)?(?:害怕|怕)(?:死了|极了)?|吓死|吓坏|恐惧",
    r"\b(?:scared|afraid|terrified|frightened|panick?\w*)\b",
)
FEAR_NOW = _any(
    r"^(?:死了|极了|得?要死|得?要命|得?发抖|了|啊|呀|哦|呜+|他|她|他们|这个人|那个人|\s)*$",
    r"^(?:他|她|他们)?(?:真的|会|又|还)?(?:要)?(?:来|过来|进来|找来|找我|打我|进我)",
    r"^\s*(?:so much\s*|right now\s*|now\s*|to death\s*)*(?:$|for my life|of (?:him|her|them|this (?:man|guy)|"
    r"that (?:man|guy)|my (?:supervisor|boss|manager|leader))\s*$|to (?:go (?:back|home|out|outside)|leave|sleep|"
    r"be alone|open the door|walk)\b)",
)
"""Fear is danger now when it ends the clause ("我好怕", "i am so scared right now") or names the person or
the place she dare not go; fear of something that may follow ("怕被报复", "afraid my boss will find out",
"怕见到他") is a question about it."""

NEGATION_ZH = re.compile(
    r"(?:不|没|没有|别|未|无|不再|没再|没人|没有人|并没有|并不|不会|不是|不要|别再|从没|从来没有?|从不)"
    r"(?:再|是|在|有|会|要|人|一直|总|老|很|太|那么)?$"
)
"""A Chinese negation right before a cue ("没有跟着我", "我不怕", "不会再跟着我"); "说不回就来" is not one."""
NEGATION_EN = re.compile(r"\b(?:not|never|no|nobody|no one|noone|neither|nor)\b")

PAST = _any(
    r"以前|之前|从前|曾经|上次|那次|有一次|有次|去年|前年|上个?月|上周|上星期|上礼拜|很久|好久以前|小时候|当时|那时|"
    r"以往",
    r"[几两三四五六七八九十\d]+ ?(?:个)?(?:月|年|周|星期)(?:以)?前",
    r"\bused to\b|\blast (?:week|month|year|time|summer|winter)\b|\b\w+ (?:days?|weeks?|months?|years?) ago\b",
    r"\bin the past\b|\bpreviously\b|\bback then\b|\ba while ago\b|\blong ago\b|\bwhen i was\b|\bbefore\s*$",
)
PAST_ASPECT = re.compile(r"^过")
"""A Chinese verb followed by 过 ("跟踪过我") tells of something that happened and ended."""

SAFE_NOW = _any(
    r"现在没事了|已经没事了|现在安全了|已经安全了|现在已经好了|已经离开他了",
    r"\b(?:i am|we are) (?:now )?safe\b|\b(?:i am|we are) (?:ok|okay|fine|alright) now\b|"
    r"\bnow (?:i am|we are) (?:safe|ok|okay|fine)\b|\bgot away\b(?! with)|\bi escaped\b",
)
"""She says it is over and she is safe: what was done to her is told, not happening (a threat or
self-harm still counts)."""
PRESENT = _any(
    r"现在|正在|此刻|还在|又在|又来|又开始|就在|刚才|刚刚|今晚|今天|这会儿?|此时|目前",
    r"\bnow\b|\bstill\b|\bagain\b|\bcurrently\b|\btonight\b|\btoday\b|\bat the moment\b|\bthis moment\b",
)

HYPOTHETICAL = _any(
    r"如果|万一|假如|假设|要是|若是|假使|(?<![说讲发写骂])的话(?![是让我都很])",
    r"\bif\b|\bwhat if\b|\bin case\b|\bsuppose\b",
)
SITUATION = _any(
    r"(?:遇到|碰到|遇上|遭遇|发生)(?!.{0,8}我)|新闻|听说|网上看到|\bin the news\b|\bi heard\b",
    r"\bwhen (?:someone|somebody|a (?:man|person|worker))\b",
)
"""A kind of situation asked about in general ("遇到被跟踪要先做什么", "what to do when someone follows
a worker"): hypothetical in a question, unless the message says it is happening now."""
ABOUT_RULES = _any(
    r"规定|制度|政策|条例|法律|法规|条款|培训(?!室|中心|楼|教室)|手册|守则",
    r"\b(?:policy|policies|rules?|law|laws|code of conduct|handbook|training)\b|\bsays? about\b",
)
"""A question about what the rules say ("公司对威胁有什么规定", "what does the policy say about threats")
asks about a kind of act, not of one happening to her."""
CATEGORY_QUESTION = _any(
    r"算不算|算是|算.{0,10}[吗么]|属于|这(?:种|类|样的)(?:事|情况)|是不是.{0,8}(?:骚扰|违法|犯法)|什么是|什么叫|定义",
    r"\bwhat counts\b|\bcount as\b|\bconsidered\b|\bis (?:it|this|that) (?:sexual )?harassment\b|"
    r"\bwhat is (?:a |an |the )?(?:sexual |online )?(?:harassment|stalking|assault|abuse|bullying|retaliation|"
    r"considered|counted|meant by|the definition)\b",
    r"\bdoes (?:it|this|that) count\b|\bdefin\w*",
)

# --- questions ---------------------------------------------------------------------------------

QUESTION = _any(
    r"[?吗呢么]\s*$|怎么|怎样|如何|咋|哪里|哪儿|在哪|什么(?![都也])|会不会|能不能|可不可以|可以.{0,12}[吗么]|是不是|"
    r"要不要|"
    r"有没有|多久|多长时间|几点|几天|谁会|归谁|谁管|谁负责|为什么|哪些|哪种|有用吗|有啥|是啥|啥(?:规定|意思|情况|时候|"
    r"办法|用|叫|算)|为啥|干啥|后果|流程|步骤|想知道|想问|想了解|请问|问一下|"
    r"问问|还是(?:先|应该|要|直接)",
    r"^(?:how|what|where|when|who|whom|why|which|will|would|can|could|should|is|are|am|do|does|did|may|must)\b",
    r"\b(?:i want to know|wondering|tell me about|explain)\b",
)
REPORTED_QUESTION = re.compile(r"(?<![请想我])问(?:我|她|我们|人家)[^,.!?;:。…~\n\s]{0,24}|说(?:些)?什么")
"""What he asked her, told in her account ("老是问我晚上睡觉穿什么"): not her question."""
QUESTION_END = re.compile(r"[?吗么]\s*$")
"""A clause that ends as a question, wherever it stands in the message (not 呢: "他还没走呢" tells)."""
JUST_ASKING = _any(
    r"只是想(?:问|了解|知道)|就是问问|就问问|报销|费用|收费|多少钱",
    r"\bjust (?:want|wanted) to know\b|\bdoes the company (?:have|offer)\b",
)
"""A question about what exists ("does the company have counselling? just want to know") asks, it does
not ask for the person."""
REQUEST = _any(r"帮我|替我|帮忙|麻烦你?", r"\b(?:help me|can you|could you|please)\b")
"""A question that asks the bot to do something ("能不能帮我举报", "can you help me report") is a request."""

# --- report ------------------------------------------------------------------------------------

_REPORT_VERB_ZH = (
    r"举报|举保|举抱|举包|巨报|投诉|投述|检举|揭发|告发|反映|反应|申诉|报案|状告|上报|报上去|报告|告(?!诉|知|示|别|辞|"
    r"一段|假)"
)
REPORT = _any(
    rf"(?:我|我们)?(?:要|想|想要|需要|得|必须|准备|打算|决定|来|希望|请你?|帮我|替我|给我|麻烦你?帮?我?|帮忙)"
    rf"(?:[帮替代](?:她|他|朋友|同事|工友|别人|室友|姐妹))?(?:去|来|再|正式)?(?:匿名|实名|偷偷|悄悄)?(?:地)?"
    rf"(?:{_REPORT_VERB_ZH})",
    rf"^(?:{_REPORT_VERB_ZH})(?:一下)?(?:我们|那个|这个|他|她|我的|一个|车间|组长|线长|拉长|主管|经理|宿舍|仓库)",
    rf"(?:{_REPORT_VERB_ZH})一下",
    rf"[帮替代]我?的?(?:她|他|朋友|同事|工友|别人|室友|姐妹|表妹|表姐|妹妹|姐姐|老乡|亲戚|老婆|女儿|我们)"
    rf"(?:去|来|正式)?(?:{_REPORT_VERB_ZH}|说一下|讲一下|说说)",
    rf"把.{{0,10}}(?:报上去|上报|{_REPORT_VERB_ZH}上去)|帮我记(?:一下|下来|录)|记录一下|"
    rf"[补留](?:个|一个|一下)?(?:记录|底)|备个?案",
    r"^\W*report\s*:|\breport (?:pls|please|him|her|them|this|it)\b|\breport\s*$|\bon (?:the )?record\b|"
    r"\bfor the record\b|"
    r"\bkeep a record\b|\b(?:want|like|need) to tell (?:you|someone|hr) about\b",
    r"^(?:i am |i am here |i want to be )?reporting\b|\breporting (?:on behalf|for (?:my|a)|about|that|this|my|him|"
    r"her)\b",
    r"\b(?:on behalf of|for) my (?:friend|colleague|coworker|co-worker|roommate|sister)\b.{0,40}\b(?:report|complain)",
    r"\b(?:want|wanna|would like|need|have|going|gonna|ready|here|like|wish|decided|trying|try)\s+to\s+"
    r"(?:make|file|submit|lodge|send|do|start|write|put in)\s+(?:a\s+|an\s+|my\s+)?(?:\w+\s+)?(?:report|complaint)",
    r"\b(?:want|wanna|would like|need|have|going|gonna|ready|here|like|wish|decided|trying|try)\s+to\s+"
    r"(?:report|complain)\b",
    r"^(?:please\s+)?(?:report|file|lodge|make)\s+(?:a\s+)?(?:complaint|report|my|a|the|him|her|this|someone)",
    r"\bhelp me (?:to )?(?:report|complain|file)\b",
    r"(?:交给|让|请)(?:公司|人事|厂里)处理|想把.{0,12}记(?:录)?下来|"
    r"(?:要|想|想要|需要|打算|希望)(?:跟|向|给|和)(?:公司|人事|厂里|领导|hr|你们)(?:去)?(?:举报|投诉|反映|反应|说|讲)|"
    r"^\W*complain\w*\b|"
    r"(?:想|要)把(?:这个|这件)?事(?:情)?说出来|想(?:说|讲)一下.{0,10}的事|报给(?:公司|人事|厂里|领导|hr)",
    r"\b(?:record|take|write down|register|log|note down) (?:a |my |this )?(?:complaint|report)\b|"
    r"\b(?:want|need|would like|like) (?:it|this|him|her|them|that) (?:to be )?reported\b",
)
NARRATIVE = _any(
    r"只要(?:我)?(?:跟|和)他.{0,10}就(?:给我|让我)|跟他处对象|做他(?:的)?女朋友|碰我(?:的)?(?:胸|屁股|腿|腰|身体)|"
    r"故意碰|"
    r"问我有没有男朋友|问我.{0,6}一个人睡|拿我开(?:玩笑|黄腔)|勾引|"
    r"醒来(?:在|时在).{0,8}(?:房间|宾馆|酒店|床上)|没穿衣服|光着身子|裸体|不敲门|盯着.{0,6}换衣服|换衣服.{0,4}(?:看|"
    r"盯)|"
    r"摸|揩油|咸猪手|动手动脚|毛手毛脚|占.{0,2}便宜|吃.{0,4}豆腐|(?<![反防])骚扰(?!培训|课)|骚饶|"
    r"不关门.{0,12}(?:喊|叫)我|露(?:出)?(?:下体|下身|生殖器)|暴露(?:下体|自己)|往(?:里|更衣室|厕所|浴室)(?:面)?(?:看|"
    r"偷看|瞄)|黄段子|黄色笑话|荤段子|下流|色眯眯|偷拍|偷看|"
    r"强吻|"
    r"亲我|搂我|抱我|蹭我|贴着我|把手放|手放在?我|盯着我的?(?:胸|身|腿|屁股)|说[我她].{0,6}(?:身材|胸|屁股|腿|性感)|"
    r"[拍摸捏掐](?:一下|一把|了)?[我她]的?(?:背|屁股|腰|肩|腿|脸|手|胸)|(?:觉得|感觉|好|很|真)恶心|内衣|内裤|胸罩|"
    r"发.{0,6}(?:黄图|裸照|色情|不雅|黄色)|潜规则|性暗示|要我陪|陪他(?:睡|喝|吃|出去)|不陪.{0,6}就|xsr",
    r"\b(?:touch\w*|grop\w*|harass\w*|fondl\w*|pinch\w*|molest\w*|stares? at my|staring at my|dirty jokes?|"
    r"sexual (?:jokes?|comments?|remarks?|messages?|sounds?|noises?|videos?|pictures?|photos?)|"
    r"dirty (?:words|pictures|drawings|messages|talk|videos?)|ask\w* (?:me )?for sex|sex (?:for|to keep|to renew)|"
    r"sleep with (?:him|her|me)|comments? on my (?:body|looks|chest|breasts|legs|figure)|"
    r"sends? me (?:porn|nudes?|dirty|sexual|explicit)|without knocking|while we (?:change|shower|sleep)|"
    r"grabb?\w* my (?:bum|butt|ass|bottom|breasts?|chest|waist)|"
    r"look\w* (?:inside|down|up) my (?:shirt|skirt|dress|blouse)|refus\w* to (?:be his|date|go out|sleep)|"
    r"because i (?:refuse|said no|reject)|porn\w*|dirty (?:things|stuff)|underwear|"
    r"if i (?:go|date|sleep|drink)\w* (?:out )?with him|if i go (?:out|drinking) with him|bad words about my|"
    r"about my body|naked|nude|"
    r"asking (?:me )?for (?:photos|pictures|pics|nudes)|i want (?:it|this|him) to stop|expos(?:e|es|ed|ing) (?:himself|"
    r"his)|"
    r"takes? (?:photos?|pictures?|videos?) of (?:women|girls|us|me|her|the women|female)|up ?skirt|"
    r"threaten\w* to (?:cut|fire|dock|reduce|take)|"
    r"if i (?:do not|will not|refuse to) (?:go out|sleep|date|kiss|have dinner)|"
    r"rubs? (?:against|up against) me|brush\w* against me|keeps? asking me out|asks? me out)\b",
)
"""An account of harassment in her own words ("组长天天在群里发黄段子", "he keeps touching me at the
line"): not a question, so she is telling what happened and is offered the report."""
REPORT_REFUSED = _any(r"(?:不|没|别|不想|不要|不用|不打算)(?:想|要|去)?$", r"\b(?:not|never|no)\s+(?:\w+\s+){0,2}$")
"""Said just before a report phrase, it refuses to report ("不想举报", "i do not want to report")."""
REPORT_BARE_WORDS = re.compile(
    r"我们?|要|想|需要|得|请|你|您|帮|麻烦|一下|个|的|了|吧|啊|呀|哦|嗯|呢|就|来|去|再|正式|下|"
    rf"{_REPORT_VERB_ZH}|"
    r"\b(?:i|want|wanna|would|like|need|have|going|gonna|ready|here|to|make|file|submit|lodge|send|do|start|"
    r"write|put|in|a|an|my|new|the|report|complaint|complain|please|can|could|you|help|me|now|just|am|is|how|what|"
    r"where|it|this|that|begin|here|about|something|someone|somebody|"
    r"today)\b|怎么|怎样|如何|弄|做|操作|开始|在哪|哪里|一件事|事情|"
    r"能不能|可不可以|可以|能否|一个人|某人|有个人|一个"
)

# --- status ------------------------------------------------------------------------------------

_CASE_ZH = r"举报|投诉|报告|案子|案件|反映的事|那件事|的事|那个|那件"
_WHEN_ZH = r"上周|上星期|上个?月|前几天|前天|昨天|之前|上次|以前|那天"
_MINE_ZH = (
    r"我的|我那个|我那|我之前|我上次|我以前|我前几天|之前的?|上次的?|我交的|我提交的|我报的|我举报的|我投诉的|"
    r"我反映的|交的|提交的|"
    rf"我(?:{_WHEN_ZH})(?:举报|投诉|反映|交|提交|报)的"
)
STATUS = _any(
    rf"(?:查|查询|查看|看看|看一下|看下|问问|问一下|跟进|"
    rf"了解一下)(?:一下)?.{{0,4}}(?:{_MINE_ZH}).{{0,6}}(?:{_CASE_ZH}|进度|结果)",
    rf"(?:{_MINE_ZH}).{{0,8}}(?:{_CASE_ZH}).{{0,6}}"
    r"(?:进度|结果|怎么样|咋样|怎样|处理|有(?:没有)?(?:消息|回复|结果|回音|进展|人管)|到哪|回复了|通过)",
    r"(?:我的|我).{0,4}(?:举报|投诉|案子|案件).{0,4}(?:进度|结果|状态)|[查看问](?:一下|下|查|看)?(?:我的)?进度|"
    r"进度查询",
    r"(?:案件号|案号|编号|查询码|回执码?|收据|case (?:number|code|no)|receipt)[^。!?]{0,24}(?:进度|结果|怎么样|"
    r"咋样|状态|到哪|哪一步|进展)",
    r"(?:举报|投诉|反映|报)的?(?:那个|那件事|事情?)[^。!]{0,8}(?:有人(?:看|管|理|处理)了?(?:没|吗|没有)|"
    r"(?:看|处理|管)了?没|怎么样了|咋样了|到哪一?步)",
    r"\bwhat(?: is|'s) the (?:status|progress|update)\b|\b(?:code|receipt|reference|ref(?:erence)? (?:no|"
    r"number))\b.{0,30}"
    r"\b(?:status|progress|update|result)\b",
    r"\b(?:is|was|has|did) (?:my|our) (?:report|case|complaint) (?:been |get |got )?(?:closed|finished|done|solved|"
    r"resolved|accepted|rejected|received|handled|read|seen|processed|approved|dismissed|dropped|looked at)\b",
    r"我(?:的|上次的|之前的)?(?:举报|投诉|反映|报告)[^。?!]{0,16}"
    r"(?:没(?:有)?人(?:理|管|回|联系|跟进)|没(?:有)?(?:回音|消息|回复|下文|动静|结果)|石沉大海)",
    r"\b(?:status|progress|update)s? (?:of|on) (?:my |the |our )?(?:report|case|complaint)\b|\bcase (?:number |"
    r"no\.? |#)?\d{3,}\b",
    r"\bi (?:report|reported|complain|complained|(?:made|make|sent|send|filed|file) (?:a |my )?(?:report|complaint))\b"
    r".{0,60}\b(?:heard nothing|no (?:reply|answer|response|news|update)|nobody|no one|not heard|still waiting|"
    r"any news|"
    r"result|update|news|reply|answer|received|contact)",
    r"(?:举报|投诉|反映)[^。!]{0,16}(?:调查|处理|查)(?:完)?了?(?:没|吗|没有)",
    r"(?:举报|投诉|反映)(?:以后|之后|完)[^。!?]{0,24}(?:是不是没人管|还在.{0,6}上班|没人管)|提交(?:完|了|"
    r"以后)?.{0,10}没(?:有)?收到|"
    r"没提交成功|提交成功了?(?:吗|没)|我的事(?:情)?(?:到底)?(?:怎么样|咋样|处理)了?",
    r"\binto my (?:report|case|complaint)\b|\b(?:complaint|report)\b.{0,60}\bhow (?:it is|is it) going\b",
    r"(?:举报|投诉|反映|报)(?:了|完|过)(?!名|工伤|销)(?:(?!会|怎么|如果|万一|要是)[^。?!]){0,24}(?:没(?:有)?人(?:理|管|回|联系|跟进)|"
    r"(?:一点|一直|都|还)?没(?:有)?(?:回音|消息|回复|下文|动静|结果|答复)|消息都没有|石沉大海|咋回事|怎么回事|"
    r"都?没(?:有)?人找(?:过)?我|"
    r"是不是没(?:有)?(?:处理|人管)|(?:消息|动静|回音|回复|下文)都没(?:有)?|处理到哪|查没查)",
    r"(?:上回|上次|之前)?那(?:件)?事(?:情)?(?:处理|办)(?:完|好)?了?没|(?:举报|投诉)(?:怎么)?(?:找不到|不见)了|"
    r"(?:举报|投诉|案子)[^。!?]{0,4}(?:显示|已经|已|被)+\W*(?:结案|关闭|撤销|处理完|驳回|不予受理)",
    r"\bfollow(?:ing)? up on (?:the|my) (?:complaint|report|case)\b|\bthe (?:complaint|report) i (?:submitted|sent|"
    r"made|filed)\b|"
    r"\b(?:did|has|have)\b.{0,30}\babout my (?:report|case|complaint)\b",
    r"(?:我的)?(?:举报|投诉|案子)(?:怎么)?(?:显示|已经|已)+(?:结案|关闭|撤销|处理完)|"
    r"(?:举报|投诉|反映)[^。!]{0,30}(?:到底有没有处理|有没有处理|处理了?没有?|怎么还在上班)",
    r"(?:举报码|查询码|回执码?|编号|案件号|案号)(?:弄)?(?:丢|忘|找不到|没了).{0,30}(?:帮我查|查一?查|查一下|能查|查到)|"
    r"\b(?:lost|forgot|forget) (?:my )?(?:code|receipt|case number)\b.{0,40}\b(?:check|look up|find) (?:it|my|the)\b",
    r"我(?:补充|发|交|上传|补)的.{0,10}(?:收到|看到)了?(?:没有?|吗)|\bunder review\b",
    r"\b(?:the (?:guy|man|person|one|supervisor|leader|thing|matter|issue|problem)|him|her|what) (?:that |who )?i "
    r"(?:reported|complained about)\b|"
    r"我(?:举报|投诉)的(?:那个)?(?:人|男的|家伙|主管|组长)(?:被)?(?:处理|开除|调走|处分)了?(?:没|吗|没有)",
    r"\bwhat (?:happen|happened|happens|is happening) (?:to|with) (?:my|our|the) (?:report|case|complaint)\b|"
    r"\bhap-[0-9a-z]{3,8}\b|\bcheck (?:the |my )?status\b",
    r"(?:之前|上次|以前|前天|昨天|上周|上个?月|前|我)(?:(?!如果|要是|万一|假如)[^。?!]){0,12}(?:举报|投诉|反映|"
    r"报)(?:的|了|过)[^。!]{0,16}"
    r"(?:情况|进展|结果|进度|处理|回复|回音|消息|动静|没人(?:回|理|管)|没有人(?:回|理|管)|收到)",
    r"\bmy (?:report|case|complaint)\b.{0,30}\b(?:status|progress|update|news|result|outcome|going|happen\w*|reply|"
    r"closed|"
    r"answer|heard|anything)\b",
    r"\b(?:check|checking|follow up|follow-up|track|see|look up|any update|any news|update|updates|news|what happened|"
    r"what is happening|how is|where is|status)\b.{0,12}\b(?:my|our)\s+(?:\w+\s+)?(?:report|case|complaint)\b",
    r"^(?:我的|查询?我的)(?:举报|投诉|案子|案件|报告)$",
    r"\bhap-[0-9a-z]{6}\b",
    r"^(?:我要|我想|帮我|要)?(?:查询|查一下|查查|查)(?:一下)?(?:进度|举报|投诉|结果)?$",
    r"\b(?:replied|reply|answered|responded|looked at|look at|read|seen|checked|handled|opened)\b.{0,16}\b(?:my|our)\s+"
    r"(?:report|case|complaint)\b",
)

WHO_READS = _any(
    r"\b(?:who|can|could|will|would|does|do|may|is|are)\s+(?!i\b|you\b|u\b)(?:[\w']+\s+){0,3}?"
    r"(?:read|see|look at|access|open|get to see|find out)\b.{0,12}\b(?:my|our|a|the)\s+(?:report|case|complaint)s?\b",
    rf"(?:谁|哪些人|什么人|人事|领导|老板|主管|组长|线长|经理|别人|厂里).{{0,6}}(?:能|会|可以|可不可以|能不能)"
    rf".{{0,3}}(?:看到|看见|打开|知道|查看|看)(?:{_MINE_ZH}|我写的|我的)",
)
"""A question about who can read reports ("can HR read my report about my manager", "人事能看到我的举报吗"):
it belongs to the FAQ (data-privacy), not to a status lookup, though it names "my report"."""

# --- talk to a person --------------------------------------------------------------------------

PERSON = _any(
    r"找人(?:聊|说|谈|倾诉)|(?:跟|和|找|同)(?:人|真人|谁|个人|一个人)(?:聊|说|谈)|找(?:个|一个)人.{0,4}(?:聊|说|谈|讲|"
    r"打电话|通话)|"
    r"有没有人.{0,6}(?:跟|和|陪)我.{0,2}(?:聊|说|谈)",
    r"真人|人工客服|人工服务|转人工|活人|倾诉|陪我(?:聊|说)|说说话|聊一?聊",
    r"(?:跟|和|找|同)(?:人事|hr|领导|心理|主管|委员会|工会).{0,6}(?:聊|谈|说|讲|沟通|见面|面谈|当面|联系)",
    r"(?:让|叫|请)(?:人事|hr|有人|人|谁|工会|委员会)(?:直接)?.{0,6}(?:联系|打电话给|找|回电)我",
    r"打(?:个|一个|一下|一通)?电话给我|给我打(?:个|一个)?电话|回(?:个)?电话给我",
    r"(?:能不能|能否|可以|可不可以|请|麻烦)(?:有人|你们|人事|谁)?.{0,2}(?:打电话给我|给我打电话|联系我|回电话给我)",
    r"(?:联系|找|打给|打电话给)(?:人事|hr|人力|委员会|关爱委员会)|人事(?:部|的)?(?:电话|联系方式|在哪|办公室|分机)",
    r"\bcontact (?:hr|human resources|the board|someone|somebody)\b|\bhr(?: is)? (?:phone|number|contact)\b",
    r"(?:叫|找|请|要|有没有)(?:个|一个)?.{0,8}的人.{0,4}(?:跟|和|同)我(?:聊|说|谈|讲)|"
    r"心理(?:咨询|老师|医生|辅导)(?!热线|电话|的?电话|号码)|咨询师|辅导员|心里话|谈心|女(?:的)?(?:人事|hr|同事|"
    r"工作人员)",
    r"\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:someone|somebody|a (?:real )?(?:person|human)|anyone|hr|a counsell?or|"
    r"someone in hr|a woman|a real|people|a human being)",
    r"找.{0,8}(?:负责|管事|主管|领导|人事).{0,4}(?:当面|面对面)?(?:谈|聊|说|讲|沟通)|"
    r"(?:想|要|希望|能不能|可以|申请|安排).{0,12}(?:当面|面对面)(?:谈|聊|说|讲|沟通|见)|"
    r"(?:想|要|希望|申请|安排)(?:一次|个)?面谈|见面谈|约(?:一下)?.{0,6}(?:人事|hr|姐|哥|负责人|领导)|"
    r"(?:找|叫)(?:一下)?(?:你们)?(?:的)?(?:负责人|值班的|管事的)|别让机器人|(?:跟|和)我见(?:个)?面|见个面",
    r"会[说讲].{0,6}(?:话|语)的(?:人|同事|老师|工作人员)|(?:工会|人事|hr|心理|委员会)的人.{0,6}(?:聊|谈|说|讲)|(?:越南|"
    r"菲律宾|印尼|缅甸|柬埔寨|泰国|老挝|英|粤|广东|客家|潮汕)(?:话|语|文)的(?:人|同事|翻译)|"
    r"(?:我)?想(?:跟|和|同)(?:她|他|你们的人|人|真人)(?:讲|说|聊|谈)",
    r"\b(?:lady|woman|female|women) (?:staff|officer|hr|worker|person|counsell?or|employee)\b|"
    r"\b(?:someone|somebody|anyone|staff|person) (?:who )?(?:speaks?|can speak) (?:\w+ ){0,2}(?:vietnamese|tagalog|"
    r"filipino|"
    r"indonesian|burmese|english|cantonese|my language)\b",
    r"想(?:直接|当面)?(?:找|见)(?:她|他|人事|hr|负责人|领导|你们(?:的)?人)|(?:让|叫|请|能不能|可以|麻烦)(?:人|你们|谁|"
    r"她|他)?.{0,4}加我(?:的)?(?:微信|qq|好友)|(?:想|要|能不能|可以)私聊|"
    r"不想(?:跟|和)机器(?:人)?(?:说|聊|讲)|不要机器人|\bnot (?:a |the |this )?(?:bot|robot|machine)\b",
    r"\breal human\b|^\W*human\b|\bface to face\b|\bmeet (?:the|a|an|with)\b.{0,30}\b(?:representative|hr|officer|"
    r"manager|counsell?or|someone|person)\b",
    r"\breal person\b|\ba human\b|\bsomeone to (?:talk|listen)|\bcounsell?or\b|\bcounsell?ing\b|\bneed support\b",
    r"\b(?:can|could|please|would|will)\s+(?:someone|somebody|you|hr|a person)\s+(?:call|contact|phone)\s+me\b",
    r"\b(?:want|need|like)\s+(?:someone|somebody|hr|a person)\s+to\s+(?:call|contact|phone)\s+me\b",
    r"\b(?:can|could|would|will|please)\b.{0,30}\b(?:call|phone|ring|contact|message|text|meet)\s+me\b",
    r"\b(?:staff|someone|somebody|person|people|anyone)\b.{0,20}\b(?:i can|to) (?:talk|speak|chat) (?:to|with)\b",
    r"\b(?:connect|transfer|put)\s+me\s+(?:through\s+)?(?:to|with)\b|\bsomeone real\b|\ba (?:real|live) (?:person|"
    r"human)\b",
)

# --- greeting and thanks (the whole message, once these and fillers are removed) ----------------

GREETING_WORDS = re.compile(
    r"你好|您好|大家好|你们好|嗨|哈喽|哈啰|哈罗|嘿|喂|在吗|在么|在嘛|在不在|有人吗|有人在吗|早上好|上午好|中午好|"
    r"下午好|晚上好|早安|晚安|早|"
    r"打扰(?:了|一下|您|你)?|不好意思|亲亲?|机器人|小助手|刚下班|下班了|吃饭了(?:没|吗)?|在忙吗?|忙吗|请问|侬好|再吗|"
    r"再么|"
    r"(?:老师|师傅|姐姐?|大姐|阿姨|小姐姐|领导)(?:您|你)?好|"
    r"(?:我是?)?(?:第一次|头一回)用(?:这个)?|刚(?:关注|加)(?:的|了)?(?:这个)?|"
    r"\b(?:hi+|hel+o+|hey+|hallo|hiya|yo|good (?:morning|afternoon|evening|day)|po|ma'?am|ma am|madam|sir|"
    r"anyone there|is anyone there|xin ?ch[aà]o|kumusta|magandang (?:umaga|hapon|gabi)|selamat (?:pagi|siang|sore|"
    r"malam)|"
    r"first time (?:here|using this)|new here|anyone here|is anyone here|somebody there|assalamu ?alaikum|salam|"
    r"namaste(?: ji)?|sister|brother|kak|sis|bro|"
    r"are you there|there|bot)\b"
)
THANKS_WORDS = re.compile(
    r"谢谢(?:你们|你|您)?帮(?:了)?我|(?:谢谢|感谢|多谢|太感谢|非常感谢)(?:晒|哂|你们|您们|你|您|大家|老师|师傅|姐姐?|阿姨|领导)?|谢谢(?:你们|你|"
    r"您)?帮(?:了)?我|"
    r"(?:心里)?(?:好受|舒服|好)多了|唔该|\b(?:3q|xx|xie ?xie)\b|谢了|谢啦|"
    r"辛苦(?:你|您|你们|您们)?了?|\bc[aả]m [oơ]n\b|\bsalamat(?: po)?\b|\bterima kasih\b|"
    r"好的|好吧|好嘞|好|嗯+|哦+|噢|okay|ok|知道了|明白了|懂了|"
    r"收到|了解|"
    r"拜拜|再见|没事了|知道(?:了|啦)|那?我再想想|我想想|(?:那)?我?先下(?:线)?了?|先走了|下次再聊|好嘞|行吧?|"
    r"\b(?:thanks?|thank you|thank u|thx|ty|cheers|much|so|very|a lot|okay|ok|got it|great|appreciate it|"
    r"you|fine|bye|goodbye|see you|that|this|it|really|helped|helps|helpful|useful|was|very helpful|noted|understood|"
    r"alright|all right|for (?:the|your) help|for helping(?: me)?|for explaining|banyak)\b"
)
THANKS_START = re.compile(
    r"^\W*(?:谢谢|感谢|多谢|(?:太|非常|真的?|真心)感谢|真的?谢谢|thanks?\b|thank you\b|thx\b|3q\b)"
)
"""A message that opens with thanks ("谢谢你们听我讲", "thanks a lot for the help") and asks nothing is thanks."""
THANKS_CORE = re.compile(
    r"谢|感谢|辛苦|唔该|\b3q\b|\bxx\b|\bthank|\bthx\b|\bty\b|\bcheers\b|\bappreciate|\bc[aả]m [oơ]n\b|\bsalamat\b|"
    r"\bterima kasih\b"
)
FILLERS = re.compile(r"[\s\W_]+|啊|呀|哈|哦|呢|啦|吧|了|的|呀|嘛|们|鸭|哇|哟|喔|噢")
