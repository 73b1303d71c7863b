//! What the connectors extract: sources, their objects, their hosts, and the companies.
//!
//! Source spellings keep the field's inconsistent casing on purpose (`zohobooks` next to
//! `PowerBI`): the pipeline must slug them, not the generator. Object names follow the
//! field's conventions (French SharePoint list names, Zoho objects suffixed by
//! organization, Efficy's `Compagny` typo) without being a copy of any real catalog.

/// One connector source and how its runs look.
pub(crate) struct Source {
    /// `Source` exactly as the connector writes it.
    pub name: &'static str,
    /// `Transformation` of every run of this source.
    pub transformation: &'static str,
    /// Objects in the order the connector runs them; `{Company}` is replaced by the
    /// capitalized company name (the field has per-company ledgers).
    pub objects: &'static [&'static str],
    /// Keys the connector's Python code reads from API responses; a `KeyError` on one
    /// of them is the typical "missing field" failure of this source.
    pub response_keys: &'static [&'static str],
}

pub(crate) const SHAREPOINT: &str = "sharepoint_graph";
pub(crate) const EFFICY: &str = "Efficy";
pub(crate) const ZOHO_BOOKS: &str = "zohobooks";
pub(crate) const EASY_PROJECTS: &str = "EasyProjects";
pub(crate) const POWER_BI: &str = "PowerBI";
pub(crate) const ZOHO_PROJECTS: &str = "zohoprojects";

/// The six sources seen in the field, in the order a sequence launches them.
pub(crate) const SOURCES: [Source; 6] = [
    Source {
        name: SHAREPOINT,
        transformation: "Graph_API_get_data",
        objects: &[
            "LignesFacturesApplication",
            "EnteteFactureApplication",
            "EventFactureApplication",
            "TypeRessourceMandatApplication",
            "RoleRessourceProjet",
            "TauxHoraireType",
            "TauxHoraireServices",
            "LigneHoraire",
            "LigneHoraireGroupee",
            "Ventes",
            "ContratsRessources",
            "HistoriquePaie",
            "RepertoiredesContrats",
            "TaxesRRQ",
            "TaxesRQAP",
            "TaxesCSST",
            "TaxesFSSQ",
            "FactureZoho",
            "PaiementZoho",
            "DepenseZoho",
            "SousTachesEfficy",
            "PayRateDescription",
            "BudgetsProjets",
            "FeuillesDeTemps",
            "CongesRessources",
            "CentresDeCouts",
            "ComptesFournisseurs",
            "GrandLivres_{Company}",
        ],
        response_keys: &["id", "value", "fields", "@odata.nextLink"],
    },
    Source {
        name: EFFICY,
        transformation: "efficy_API_get_data",
        objects: &[
            "Contact",
            "Compagny",
            "Opportunity",
            "Project",
            "Case",
            "Action",
            "Document",
            "Product",
            "ProduitOpportunity",
            "ProduitProject",
            "CompagnyProject",
            "OpportunityCompagny",
            "Ressources",
            "Services",
            "Secteurs",
            "Statut_Oppo",
            "Campagne",
        ],
        response_keys: &["id", "result", "K_COMPANY", "K_CONTACT"],
    },
    Source {
        name: ZOHO_BOOKS,
        transformation: "Zoho_API_get_data",
        objects: &[
            "invoices_ga",
            "invoices_on",
            "invoices_qc",
            "items_ga",
            "items_on",
            "items_qc",
            "customerpayments_ga",
            "customerpayments_on",
            "customerpayments_qc",
            "bills_qc",
            "expenses_qc",
            "contacts_qc",
            "creditnotes_qc",
            "journals_qc",
        ],
        response_keys: &["id", "page_context", "has_more_page"],
    },
    Source {
        name: EASY_PROJECTS,
        transformation: "EasyProjects_API_get_data",
        objects: &[
            "Projects",
            "Activities",
            "Portfolios",
            "Users",
            "ProjectStatuses",
            "ActivityStatuses",
            "Roles",
            "Timelogs",
            "Customers",
            "ActivityTypes",
        ],
        response_keys: &["id", "Id", "Items", "TotalCount"],
    },
    Source {
        name: POWER_BI,
        transformation: "PowerBI_API_get_data",
        objects: &[
            "workspaces",
            "datasets",
            "dataflows",
            "dashboards",
            "reports",
            "datasets_refreshes",
            "dataflows_transactions",
            "apps",
        ],
        response_keys: &["id", "value", "@odata.context"],
    },
    Source {
        name: ZOHO_PROJECTS,
        transformation: "Zoho_API_get_data",
        objects: &[
            "projects",
            "tasks",
            "tasklists",
            "milestones",
            "timesheets",
            "users",
        ],
        response_keys: &["id", "projects", "page_info"],
    },
];

/// The company seen in the field, always first so the default sample contains it.
const FIELD_COMPANY: &str = "akonovia";

/// Invented companies, used after the field one; beyond the list a numeric suffix keeps
/// names unique.
const INVENTED_COMPANIES: [&str; 7] = [
    "bellerive",
    "norvanis",
    "quartzel",
    "valcourt",
    "lumenor",
    "tramontane",
    "cedrix",
];

/// Name of the `index`-th company (0 is the field one).
pub(crate) fn company_name(index: usize) -> String {
    if index == 0 {
        return FIELD_COMPANY.to_string();
    }
    let invented = index - 1;
    let base = INVENTED_COMPANIES[invented % INVENTED_COMPANIES.len()];
    match invented / INVENTED_COMPANIES.len() {
        0 => base.to_string(),
        round => format!("{base}{}", round + 1),
    }
}

/// An object name for one company: fills the `{Company}` placeholder.
pub(crate) fn object_name(template: &str, company: &str) -> String {
    let mut capitalized = String::with_capacity(company.len());
    let mut chars = company.chars();
    if let Some(first) = chars.next() {
        capitalized.extend(first.to_uppercase());
        capitalized.push_str(chars.as_str());
    }
    template.replace("{Company}", &capitalized)
}

/// Host and URL path the connector calls for one object, used to write realistic
/// `requests` / `urllib3` error texts.
pub(crate) fn endpoint(source: &str, company: &str, object: &str) -> (String, String) {
    match source {
        SHAREPOINT => (
            "graph.microsoft.com".to_string(),
            format!("/v1.0/sites/root/lists/{object}/items?expand=fields&$top=5000"),
        ),
        EFFICY => (format!("{company}.efficy.cloud"), "/crm/json".to_string()),
        ZOHO_BOOKS => {
            let resource = object.split('_').next().unwrap_or(object);
            (
                "www.zohoapis.com".to_string(),
                format!("/books/v3/{resource}?page=1&per_page=200"),
            )
        }
        EASY_PROJECTS => (
            format!("{company}.go.easyprojects.net"),
            format!("/rest/v1/{}", object.to_lowercase()),
        ),
        POWER_BI => (
            "api.powerbi.com".to_string(),
            format!("/v1.0/myorg/{}", object.replace('_', "/")),
        ),
        _ => (
            "projectsapi.zoho.com".to_string(),
            format!("/restapi/portal/{company}/{object}/"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_names_are_unique_and_key_safe() {
        let names: Vec<String> = (0..40).map(company_name).collect();
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        assert_eq!(names[0], "akonovia");
        assert!(names.iter().all(|n| !n.contains(':') && !n.is_empty()));
    }

    #[test]
    fn company_placeholder_is_capitalized() {
        assert_eq!(
            object_name("GrandLivres_{Company}", "akonovia"),
            "GrandLivres_Akonovia"
        );
        assert_eq!(object_name("Ventes", "akonovia"), "Ventes");
    }

    #[test]
    fn object_names_are_unique_per_source() {
        for source in &SOURCES {
            let unique: std::collections::HashSet<&&str> = source.objects.iter().collect();
            assert_eq!(unique.len(), source.objects.len(), "{}", source.name);
        }
    }
}
