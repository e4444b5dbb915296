"""The offline writer: real, varied e-mails from phrase banks, with no LLM or account.

It is the writer when no OpenAI key is set, so a fresh checkout still produces e-mails.
Every sentence slot has several phrasings in each language and tone; a SHA-256 hash of
the inputs picks one per slot, so the same inputs always give the same e-mail and other
inputs read differently. Client values go in through one single-pass substitution, so
braces or `%` in a name, occupation or country are kept exactly as given.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence

from generation.base import SUPPORTED_LANGUAGES, SUPPORTED_TONES, Email, EmailRequest
from generation.greetings import greeting_line

__all__ = ["OfflineWriter"]

Variants = tuple[str, ...]
Bank = dict[str, dict[str, Variants]]

# Sentence slots per paragraph. The last paragraph is always the call to action.
LAYOUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "warm": (("opening", "encourage"), ("support", "next"), ("cta",)),
    "formal": (("opening", "encourage"), ("support", "next"), ("cta",)),
    "concise": (("opening", "support"), ("cta",)),
}

SUBJECTS: dict[str, Variants] = {
    "en": (
        "Opportunities for {occupation} professionals in {country}",
        "Job opportunities in {country} for {occupation} professionals",
        "In demand in {country}: {occupation} professionals",
    ),
    "fr": (
        "Perspectives d'emploi : {occupation} – {country}",
        "Votre métier ({occupation}) est recherché – {country}",
        "Des opportunités pour votre métier ({occupation}) – {country}",
    ),
    "de": (
        "Gute Chancen als {occupation} im Zielland {country}",
        "Berufliche Perspektiven als {occupation} – {country}",
        "Gefragt im Zielland {country}: {occupation}",
    ),
    "es": (
        "Oportunidades como {occupation} en {country}",
        "Perspectivas laborales en {country}: {occupation}",
        "Empleo como {occupation} en {country}",
    ),
    "pt": (
        "Oportunidades como {occupation} – {country}",
        "Oportunidades de emprego como {occupation} – {country}",
        "A sua profissão ({occupation}) é procurada – {country}",
    ),
}

# Phrase banks: tone, then slot, then phrasings. Every "opening" names {occupation}
# and {country}; no phrasing holds a digit, a sign-off or a promise about permits.
# German and Spanish use du/tú for warm and Sie/usted otherwise; French keeps vous;
# Portuguese avoids pronouns (o seu, a sua) so it reads well in Portugal and Brazil.


ENGLISH: Bank = {
    "warm": {
        "opening": (
            "We have some encouraging news for you: skilled {occupation} "
            "professionals are in real demand in {country} right now.",
            "Your profession, {occupation}, is one that employers in {country} are "
            "actively looking for at the moment.",
            "Opportunities for {occupation} candidates in {country} are looking very "
            "promising, and your profile fits right in.",
            "Employers in {country} are keen to welcome people with your experience, "
            "and {occupation} profiles are especially sought after.",
        ),
        "encourage": (
            "Your experience is exactly the kind of background that stands out there, "
            "and we would love to help you make the most of it.",
            "It is a great moment to take the next step, and your skills could open "
            "some wonderful doors.",
            "With your skills and experience, you are in a strong position to make "
            "this move.",
        ),
        "support": (
            "Our consultants know the job market there well and can guide you through "
            "every stage, from polishing your CV to preparing for interviews.",
            "We can help you understand what employers expect, present your "
            "experience in the best light and plan each step of your move.",
            "You will not be doing this alone: we will support you with your "
            "applications, your interview preparation and your relocation plans.",
        ),
        "next": (
            "Together we can draw up a plan that fits your goals and your timing.",
            "Every journey is different, so we will shape our advice around you.",
            "A little guidance at the start can make the whole process feel much "
            "easier.",
        ),
        "cta": (
            "If this sounds interesting, just reply to this e-mail and we will take "
            "it from there.",
            "Would you like to explore this further? Simply reply to this e-mail or "
            "book a call with one of our consultants.",
            "We would love to hear from you, so feel free to reply to this e-mail or "
            "book a call with one of our consultants.",
        ),
    },
    "formal": {
        "opening": (
            "We are writing to let you know that there is currently strong demand for "
            "qualified {occupation} professionals in {country}.",
            "We would like to inform you that employers in {country} are actively "
            "seeking experienced candidates in your profession, {occupation}.",
            "We are pleased to inform you that the job market in {country} currently "
            "offers promising prospects for {occupation} professionals.",
        ),
        "encourage": (
            "In our assessment, your professional background makes you a strong "
            "candidate for these opportunities.",
            "Your qualifications and experience place you in a favourable position to "
            "pursue this path.",
            "We believe this is an opportune moment to consider the next step in your "
            "career.",
        ),
        "support": (
            "Our consultants are familiar with the expectations of employers in "
            "{country} and can advise you on your applications and interview "
            "preparation.",
            "Our team would be glad to assist you at every stage, from the "
            "preparation of your application documents to the planning of your "
            "relocation.",
            "We can provide tailored guidance on presenting your experience and on "
            "the practical steps involved in relocating.",
        ),
        "next": (
            "Our advice is always adapted to your individual circumstances and "
            "objectives.",
            "We would be pleased to prepare a plan of action suited to your goals.",
            "Each application receives our careful and individual attention.",
        ),
        "cta": (
            "Should you wish to discuss these opportunities, please reply to this "
            "e-mail or schedule a call with one of our consultants.",
            "We would be pleased to arrange a consultation with one of our "
            "consultants; please reply to this e-mail at your convenience.",
            "If you would like to learn more, we invite you to book a call with one "
            "of our consultants or simply reply to this e-mail.",
        ),
    },
    "concise": {
        "opening": (
            "Employers in {country} are looking for {occupation} professionals, and "
            "your profile is a good fit.",
            "Your profession, {occupation}, is in demand in {country}.",
            "There are good opportunities for {occupation} candidates in {country} "
            "right now.",
        ),
        "support": (
            "We can help you prepare and apply.",
            "Our consultants can guide you through each step.",
            "We would be glad to help you make the move.",
        ),
        "cta": (
            "Reply to this e-mail to get started.",
            "Interested? Reply to this e-mail or book a call with a consultant.",
            "Just reply to this e-mail and we will arrange a call with a consultant.",
        ),
    },
}


FRENCH: Bank = {
    "warm": {
        "opening": (
            "Bonne nouvelle : votre métier, {occupation}, est très recherché en ce "
            "moment dans votre pays de destination, {country}.",
            "Nous avons une nouvelle encourageante pour vous : les employeurs de "
            "votre pays de destination, {country}, recherchent activement des profils "
            "comme le vôtre ({occupation}).",
            "Les perspectives sont particulièrement prometteuses en ce moment pour "
            "les personnes qui exercent votre métier ({occupation}) dans votre pays "
            "de destination, {country}.",
        ),
        "encourage": (
            "Votre expérience correspond exactement à ce que recherchent les "
            "employeurs là-bas, et nous serions ravis de vous aider à la mettre en "
            "valeur.",
            "C'est le moment idéal pour franchir le pas, et vos compétences peuvent "
            "vous ouvrir de belles portes.",
            "Avec votre parcours, vous avez de réels atouts pour réussir ce projet.",
        ),
        "support": (
            "Nos consultants connaissent bien le marché de l'emploi local et peuvent "
            "vous accompagner à chaque étape, de la préparation de votre CV jusqu'aux "
            "entretiens.",
            "Nous pouvons vous aider à comprendre les attentes des employeurs, à "
            "présenter votre expérience sous son meilleur jour et à préparer votre "
            "installation.",
            "Vous ne ferez pas cette démarche sans soutien : nous vous accompagnons "
            "pour vos candidatures, la préparation de vos entretiens et votre projet "
            "d'installation.",
        ),
        "next": (
            "Ensemble, nous pouvons construire un plan adapté à vos objectifs et à "
            "votre rythme.",
            "Chaque parcours est unique, et nos conseils s'adaptent à votre situation.",
            "Un accompagnement dès le départ rend souvent toute la démarche beaucoup "
            "plus simple.",
        ),
        "cta": (
            "Si cela vous intéresse, il vous suffit de répondre à cet e-mail et nous "
            "nous occupons du reste.",
            "Envie d'en savoir plus ? Répondez simplement à cet e-mail ou réservez un "
            "appel avec l'un de nos consultants.",
            "Nous serions ravis d'échanger avec vous : répondez à cet e-mail ou "
            "réservez un appel avec l'un de nos consultants.",
        ),
    },
    "formal": {
        "opening": (
            "Nous souhaitons vous informer que votre métier, {occupation}, fait "
            "actuellement l'objet d'une forte demande dans votre pays de destination, "
            "{country}.",
            "Nous avons le plaisir de vous informer que les employeurs de votre pays "
            "de destination, {country}, recherchent activement des profils qualifiés "
            "dans votre domaine ({occupation}).",
            "Le marché de l'emploi de votre pays de destination ({country}) offre "
            "actuellement des perspectives favorables aux professionnels exerçant "
            "votre métier ({occupation}).",
        ),
        "encourage": (
            "Compte tenu de votre parcours professionnel, votre candidature nous "
            "paraît particulièrement pertinente pour ces opportunités.",
            "Vos qualifications et votre expérience constituent de solides atouts "
            "pour mener à bien un tel projet.",
            "Le moment nous semble opportun pour franchir cette nouvelle étape de "
            "votre carrière.",
        ),
        "support": (
            "Nos consultants connaissent bien les attentes des employeurs locaux et "
            "peuvent vous conseiller pour vos candidatures ainsi que pour la "
            "préparation de vos entretiens.",
            "Notre équipe se tient à votre disposition pour vous accompagner à chaque "
            "étape, de la constitution de votre dossier de candidature à "
            "l'organisation de votre installation.",
            "Nous pouvons vous apporter un accompagnement personnalisé, tant pour la "
            "mise en valeur de votre expérience que pour l'organisation pratique de "
            "votre installation.",
        ),
        "next": (
            "Nos recommandations sont toujours adaptées à votre situation et à vos "
            "objectifs.",
            "Nous serons heureux d'établir avec vous un plan d'action adapté à vos "
            "objectifs.",
            "Chaque projet fait l'objet d'une étude attentive de notre part.",
        ),
        "cta": (
            "Si vous souhaitez en discuter, nous vous invitons à répondre à cet "
            "e-mail ou à convenir d'un appel avec l'un de nos consultants.",
            "Nous vous proposons un échange avec l'un de nos consultants : il vous "
            "suffit de répondre à cet e-mail pour convenir d'un rendez-vous.",
            "Pour en savoir davantage, nous vous invitons à réserver un appel avec "
            "l'un de nos consultants ou à répondre simplement à cet e-mail.",
        ),
    },
    "concise": {
        "opening": (
            "Votre métier, {occupation}, est recherché dans votre pays de "
            "destination, {country}.",
            "Les employeurs de votre pays de destination, {country}, recherchent des "
            "profils comme le vôtre ({occupation}).",
            "De belles opportunités s'offrent en ce moment aux personnes exerçant "
            "votre métier ({occupation}) dans votre pays de destination, {country}.",
        ),
        "support": (
            "Nous pouvons vous aider à préparer votre candidature.",
            "Nos consultants vous accompagnent à chaque étape.",
            "Nous serions ravis de vous aider à concrétiser ce projet.",
        ),
        "cta": (
            "Répondez à cet e-mail pour commencer.",
            "Envie d'en savoir plus ? Répondez à cet e-mail ou réservez un appel avec "
            "un consultant.",
            "Il vous suffit de répondre à cet e-mail pour convenir d'un appel avec un "
            "consultant.",
        ),
    },
}


GERMAN: Bank = {
    "warm": {
        "opening": (
            "Wir haben gute Neuigkeiten für dich: Fachkräfte, die als {occupation} "
            "arbeiten, sind in deinem Wunschland {country} derzeit sehr gefragt.",
            "Dein Beruf als {occupation} ist in deinem Wunschland {country} gerade "
            "richtig gefragt.",
            "In deinem Wunschland {country} suchen Arbeitgeber aktuell nach Menschen "
            "mit Erfahrung als {occupation}.",
        ),
        "encourage": (
            "Genau deine Erfahrung ist dort gefragt, und wir helfen dir gern, das "
            "Beste daraus zu machen.",
            "Es ist ein guter Moment für den nächsten Schritt, und deine Fähigkeiten "
            "können dir dort viele Türen öffnen.",
            "Mit deinen Kenntnissen und deiner Erfahrung hast du beste "
            "Voraussetzungen für diesen Schritt.",
        ),
        "support": (
            "Unser Beratungsteam kennt den dortigen Arbeitsmarkt gut und begleitet "
            "dich bei jedem Schritt, vom Lebenslauf bis zum Vorstellungsgespräch.",
            "Wir helfen dir dabei, die Erwartungen der Arbeitgeber dort zu verstehen, "
            "deine Erfahrung überzeugend darzustellen und deinen Umzug gut zu planen.",
            "Du gehst diesen Weg nicht allein: Wir unterstützen dich bei deinen "
            "Bewerbungen, bei der Vorbereitung auf Gespräche und bei der Planung "
            "deines Umzugs.",
        ),
        "next": (
            "Gemeinsam erstellen wir einen Plan, der zu deinen Zielen und deinem "
            "Zeitplan passt.",
            "Jeder Weg ist anders, deshalb richten wir unsere Beratung ganz nach dir "
            "aus.",
            "Mit etwas Unterstützung am Anfang wird der ganze Weg oft viel leichter.",
        ),
        "cta": (
            "Wenn das für dich interessant klingt, antworte einfach auf diese E-Mail, "
            "und wir kümmern uns um alles Weitere.",
            "Möchtest du mehr erfahren? Antworte einfach auf diese E-Mail oder buche "
            "ein Gespräch mit unserem Beratungsteam.",
            "Wir freuen uns darauf, von dir zu hören: Antworte auf diese E-Mail oder "
            "vereinbare ein Gespräch mit unserem Beratungsteam.",
        ),
    },
    "formal": {
        "opening": (
            "Wir möchten Sie darüber informieren, dass Fachkräfte, die als "
            "{occupation} tätig sind, in Ihrem Zielland {country} derzeit sehr "
            "gefragt sind.",
            "Gerne teilen wir Ihnen mit, dass Arbeitgeber in Ihrem Zielland {country} "
            "aktiv nach erfahrenen Fachkräften suchen, die als {occupation} tätig "
            "sind.",
            "Der Arbeitsmarkt in Ihrem Zielland {country} bietet derzeit gute "
            "Perspektiven für Ihren Beruf als {occupation}.",
        ),
        "encourage": (
            "Nach unserer Einschätzung bringen Sie mit Ihrem beruflichen Hintergrund "
            "sehr gute Voraussetzungen für diese Möglichkeiten mit.",
            "Ihre Qualifikationen und Ihre Erfahrung sind eine solide Grundlage für "
            "diesen Schritt.",
            "Wir halten den jetzigen Zeitpunkt für günstig, um den nächsten Schritt "
            "in Ihrer Laufbahn zu planen.",
        ),
        "support": (
            "Unser Beratungsteam kennt die Erwartungen der Arbeitgeber vor Ort und "
            "unterstützt Sie bei Ihren Bewerbungen sowie bei der Vorbereitung auf "
            "Vorstellungsgespräche.",
            "Wir begleiten Sie gern in jeder Phase, von der Vorbereitung Ihrer "
            "Bewerbungsunterlagen bis zur Planung Ihres Umzugs.",
            "Wir beraten Sie individuell dazu, wie Sie Ihre Erfahrung überzeugend "
            "präsentieren und Ihren Umzug sorgfältig vorbereiten.",
        ),
        "next": (
            "Unsere Beratung richtet sich stets nach Ihrer persönlichen Situation und "
            "Ihren Zielen.",
            "Gerne erarbeiten wir gemeinsam mit Ihnen einen Plan, der zu Ihren Zielen "
            "passt.",
            "Jedes Vorhaben prüfen wir sorgfältig und individuell.",
        ),
        "cta": (
            "Wenn Sie diese Möglichkeiten besprechen möchten, antworten Sie bitte auf "
            "diese E-Mail oder vereinbaren Sie ein Gespräch mit unserem Beratungsteam.",
            "Gerne vereinbaren wir ein unverbindliches Beratungsgespräch mit Ihnen; "
            "antworten Sie dazu einfach auf diese E-Mail.",
            "Für weitere Informationen laden wir Sie ein, ein Gespräch mit unserem "
            "Beratungsteam zu vereinbaren oder direkt auf diese E-Mail zu antworten.",
        ),
    },
    "concise": {
        "opening": (
            "Ihr Beruf als {occupation} ist in Ihrem Zielland {country} gefragt.",
            "Arbeitgeber in Ihrem Zielland {country} suchen Fachkräfte, die als "
            "{occupation} arbeiten.",
            "In Ihrem Zielland {country} gibt es derzeit gute Chancen für Sie als "
            "{occupation}.",
        ),
        "support": (
            "Wir helfen Ihnen gern bei der Bewerbung.",
            "Unser Beratungsteam begleitet Sie bei jedem Schritt.",
            "Wir unterstützen Sie gern auf dem Weg dorthin.",
        ),
        "cta": (
            "Antworten Sie einfach auf diese E-Mail, um loszulegen.",
            "Interesse? Antworten Sie auf diese E-Mail oder vereinbaren Sie ein "
            "Gespräch mit unserem Beratungsteam.",
            "Antworten Sie auf diese E-Mail, und wir vereinbaren ein Gespräch mit "
            "Ihnen.",
        ),
    },
}


SPANISH: Bank = {
    "warm": {
        "opening": (
            "Tenemos buenas noticias para ti: en {country} hay una gran demanda de "
            "profesionales que trabajan como {occupation}.",
            "Tu profesión, {occupation}, está muy solicitada en {country} en este "
            "momento.",
            "En {country}, los empleadores buscan activamente personas con "
            "experiencia como {occupation}.",
        ),
        "encourage": (
            "Tu experiencia es justo lo que buscan allí, y nos encantaría ayudarte a "
            "sacarle el máximo partido.",
            "Es un gran momento para dar el siguiente paso, y tus habilidades pueden "
            "abrirte muchas puertas.",
            "Con tu formación y tu experiencia, tienes todo a tu favor para dar este "
            "paso.",
        ),
        "support": (
            "Nuestros consultores conocen bien el mercado laboral de allí y pueden "
            "acompañarte en cada etapa, desde tu currículum hasta las entrevistas.",
            "Podemos ayudarte a entender lo que esperan los empleadores, a presentar "
            "tu experiencia de la mejor manera y a planificar tu traslado.",
            "No recorrerás este camino en solitario: te apoyamos con tus "
            "candidaturas, la preparación de entrevistas y la planificación de tu "
            "mudanza.",
        ),
        "next": (
            "Podemos preparar contigo un plan que se ajuste a tus objetivos y a tus "
            "tiempos.",
            "Cada camino es distinto, por eso adaptamos nuestros consejos a tu "
            "situación.",
            "Un poco de orientación al principio puede hacer que todo el proceso "
            "resulte mucho más sencillo.",
        ),
        "cta": (
            "Si te interesa, solo tienes que responder a este correo y nos "
            "encargaremos del resto.",
            "¿Quieres saber más? Responde a este correo o reserva una llamada con uno "
            "de nuestros consultores.",
            "Nos encantará saber de ti: responde a este correo o reserva una llamada "
            "con uno de nuestros consultores.",
        ),
    },
    "formal": {
        "opening": (
            "Nos complace informarle de que en {country} existe actualmente una "
            "fuerte demanda de profesionales que ejercen como {occupation}.",
            "Queremos comunicarle que los empleadores en {country} buscan activamente "
            "perfiles cualificados en su profesión, {occupation}.",
            "El mercado laboral de {country} ofrece en la actualidad perspectivas "
            "favorables para profesionales que trabajan como {occupation}.",
        ),
        "encourage": (
            "A nuestro juicio, su trayectoria profesional resulta especialmente "
            "adecuada para estas oportunidades.",
            "Sus cualificaciones y su experiencia constituyen una base sólida para "
            "emprender este proyecto.",
            "Consideramos que es un momento oportuno para plantearse el siguiente "
            "paso en su carrera.",
        ),
        "support": (
            "Nuestros consultores conocen bien las expectativas de los empleadores "
            "locales y pueden ofrecerle asesoramiento en sus candidaturas y en la "
            "preparación de sus entrevistas.",
            "Nuestro equipo queda a su disposición para brindarle apoyo en cada "
            "etapa, desde la preparación de su documentación de candidatura hasta la "
            "planificación de su traslado.",
            "Podemos ofrecerle una orientación personalizada tanto para presentar su "
            "experiencia como para organizar los aspectos prácticos de su traslado.",
        ),
        "next": (
            "Nuestro asesoramiento se adapta siempre a su situación y a sus objetivos.",
            "Con mucho gusto elaboraremos con usted un plan acorde a sus objetivos.",
            "Estudiamos cada caso con atención y de forma individual.",
        ),
        "cta": (
            "Si desea conversar sobre estas oportunidades, le rogamos que responda a "
            "este correo o que concierte una llamada con uno de nuestros consultores.",
            "Con gusto le ofrecemos una conversación con uno de nuestros consultores; "
            "basta con que responda a este correo.",
            "Para obtener más información, le invitamos a reservar una llamada con "
            "uno de nuestros consultores o a responder a este correo.",
        ),
    },
    "concise": {
        "opening": (
            "Su profesión, {occupation}, tiene demanda en {country}.",
            "En {country} se buscan profesionales que trabajan como {occupation}.",
            "En {country} hay buenas oportunidades para usted como {occupation}.",
        ),
        "support": (
            "Podemos ayudarle a preparar su candidatura.",
            "Nuestros consultores le brindan apoyo en cada paso.",
            "Le ofrecemos apoyo para dar el paso.",
        ),
        "cta": (
            "Responda a este correo para empezar.",
            "¿Le interesa? Responda a este correo o reserve una llamada con un "
            "consultor.",
            "Basta con responder a este correo para concertar una llamada con un "
            "consultor.",
        ),
    },
}


PORTUGUESE: Bank = {
    "warm": {
        "opening": (
            "Temos boas notícias: no seu país de destino, {country}, há muitas "
            "oportunidades para profissionais que trabalham como {occupation}.",
            "A sua profissão, {occupation}, é muito valorizada neste momento no seu "
            "país de destino, {country}.",
            "No seu país de destino, {country}, os empregadores procuram ativamente "
            "pessoas com experiência como {occupation}.",
        ),
        "encourage": (
            "A sua experiência é exatamente o que se procura por lá, e queremos "
            "ajudar a valorizá-la ao máximo.",
            "É um ótimo momento para dar o próximo passo, e as suas competências "
            "podem abrir muitas portas.",
            "Com a sua formação e experiência, reúne excelentes condições para dar "
            "este passo.",
        ),
        "support": (
            "Os nossos consultores conhecem bem o mercado de trabalho local e podem "
            "dar apoio em cada etapa, da preparação do currículo às entrevistas.",
            "Podemos ajudar a compreender o que os empregadores esperam, a apresentar "
            "a sua experiência da melhor forma e a organizar a sua mudança.",
            "Não vai percorrer este caminho sem apoio: acompanhamos as suas "
            "candidaturas, a preparação das entrevistas e a organização da sua "
            "mudança.",
        ),
        "next": (
            "Podemos preparar em conjunto um plano adequado aos seus objetivos e ao "
            "seu ritmo.",
            "Cada percurso é diferente, por isso adaptamos os nossos conselhos à sua "
            "situação.",
            "Um pouco de orientação no início pode tornar todo o processo muito mais "
            "simples.",
        ),
        "cta": (
            "Se tiver interesse, basta responder a este e-mail e nós tratamos do "
            "resto.",
            "Quer saber mais? Responda a este e-mail ou agende uma conversa com um "
            "dos nossos consultores.",
            "Estamos à disposição: basta responder a este e-mail ou agendar uma "
            "conversa com um dos nossos consultores.",
        ),
    },
    "formal": {
        "opening": (
            "Temos o prazer de informar que, no seu país de destino, {country}, "
            "existem atualmente oportunidades interessantes para profissionais que "
            "atuam como {occupation}.",
            "Gostaríamos de informar que os empregadores no seu país de destino, "
            "{country}, procuram ativamente profissionais qualificados na sua área, "
            "{occupation}.",
            "O mercado de trabalho do seu país de destino, {country}, oferece "
            "atualmente condições favoráveis para profissionais que atuam como "
            "{occupation}.",
        ),
        "encourage": (
            "Na nossa avaliação, o seu percurso profissional é particularmente "
            "adequado a estas oportunidades.",
            "As suas qualificações e a sua experiência constituem uma base sólida "
            "para este projeto.",
            "Consideramos que este é um momento oportuno para ponderar o próximo "
            "passo na sua carreira.",
        ),
        "support": (
            "Os nossos consultores conhecem bem as expectativas dos empregadores "
            "locais e podem prestar aconselhamento nas suas candidaturas e na "
            "preparação das entrevistas.",
            "Estamos à disposição para apoiar cada fase do processo, da preparação da "
            "documentação de candidatura à organização da sua mudança.",
            "Podemos oferecer um acompanhamento personalizado, tanto na apresentação "
            "da sua experiência como na organização prática da mudança.",
        ),
        "next": (
            "O nosso aconselhamento é sempre adaptado à sua situação e aos seus "
            "objetivos.",
            "Podemos elaborar em conjunto um plano de ação adequado aos seus "
            "objetivos.",
            "Cada caso é analisado com atenção e de forma individual.",
        ),
        "cta": (
            "Caso pretenda discutir estas oportunidades, solicitamos que responda a "
            "este e-mail ou que agende uma conversa com um dos nossos consultores.",
            "Teremos todo o prazer em agendar uma conversa com um dos nossos "
            "consultores; para isso, basta responder a este e-mail.",
            "Para mais informações, pode agendar uma conversa com um dos nossos "
            "consultores ou responder diretamente a este e-mail.",
        ),
    },
    "concise": {
        "opening": (
            "A sua profissão, {occupation}, é procurada no seu país de destino, "
            "{country}.",
            "No seu país de destino, {country}, há oportunidades para profissionais "
            "que trabalham como {occupation}.",
            "Há boas oportunidades como {occupation} no seu país de destino, "
            "{country}.",
        ),
        "support": (
            "Podemos ajudar a preparar a sua candidatura.",
            "Os nossos consultores acompanham cada etapa.",
            "Estamos prontos para ajudar a dar este passo.",
        ),
        "cta": (
            "Responda a este e-mail para começar.",
            "Tem interesse? Responda a este e-mail ou agende uma conversa com um "
            "consultor.",
            "Basta responder a este e-mail para agendar uma conversa com um consultor.",
        ),
    },
}

PHRASES: dict[str, Bank] = {
    "en": ENGLISH,
    "fr": FRENCH,
    "de": GERMAN,
    "es": SPANISH,
    "pt": PORTUGUESE,
}

_SLOT = re.compile(r"\{(name|occupation|country)\}")


class OfflineWriter:
    """Writes e-mails from the phrase banks: no network, no key, no token usage."""

    provider: str = "offline"
    model: str = "offline-v1"

    async def write(self, request: EmailRequest, feedback: str | None = None) -> Email:
        """Compose the e-mail for `request`; `feedback` only reseeds the phrasings.

        Raises:
            ValueError: the language or tone is not supported.
        """
        check_supported(request.language, request.tone)
        seed = make_seed(request, feedback)

        choice = int.from_bytes(hashlib.sha256(seed + b"greeting").digest()[:8], "big")
        opening = greeting_line(
            request.language, request.tone, request.first_name, choice=choice
        )
        body = "\n\n".join([opening, *compose_paragraphs(request, seed)])

        return Email(
            subject=compose_subject(request, seed),
            body=body,
            provider=self.provider,
            model=self.model,
            usage=None,
        )

    async def aclose(self) -> None:
        """Nothing to release: this writer holds no clients."""


def check_supported(language: str, tone: str) -> None:
    if language not in SUPPORTED_LANGUAGES:
        message = (
            f"unsupported language {language!r}: "
            f"expected one of {', '.join(SUPPORTED_LANGUAGES)}"
        )
        raise ValueError(message)

    if tone not in SUPPORTED_TONES:
        message = (
            f"unsupported tone {tone!r}: expected one of {', '.join(SUPPORTED_TONES)}"
        )
        raise ValueError(message)


def make_seed(request: EmailRequest, feedback: str | None) -> bytes:
    # JSON keeps the fields apart unambiguously and escapes lone surrogates.
    fields = [
        request.client_name,
        request.country,
        request.occupation,
        request.language,
        request.tone,
        feedback,
    ]

    return hashlib.sha256(json.dumps(fields).encode()).digest()


def pick_variant(variants: Sequence[str], seed: bytes, slot: str) -> str:
    """Choose one phrasing for `slot`, the same one every time for the same seed."""
    digest = hashlib.sha256(seed + slot.encode()).digest()

    return variants[int.from_bytes(digest[:8], "big") % len(variants)]


def fill(template: str, values: Mapping[str, str]) -> str:
    """Put values into the `{slot}`s in one pass, so a value is never read as a slot."""
    return _SLOT.sub(lambda match: values[match.group(1)], template)


def compose_paragraphs(request: EmailRequest, seed: bytes) -> list[str]:
    bank = PHRASES[request.language][request.tone]
    values = client_values(request)

    paragraphs: list[str] = []
    for slots in LAYOUTS[request.tone]:
        sentences = [pick_variant(bank[slot], seed, slot) for slot in slots]
        paragraphs.append(fill(" ".join(sentences), values))

    return paragraphs


def compose_subject(request: EmailRequest, seed: bytes) -> str:
    template = pick_variant(SUBJECTS[request.language], seed, "subject")

    return fill(template, client_values(request))


def client_values(request: EmailRequest) -> dict[str, str]:
    return {"occupation": request.occupation, "country": request.country}
